"""pytest support: absltest-based tests read absl flags, which absltest.main parses
under Bazel; under pytest their defaults are used."""
from absl import flags

flags.FLAGS.mark_as_parsed()
