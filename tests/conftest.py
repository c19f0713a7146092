"""pytest support: absltest-based tests read absl flags, which absltest.main parses
under Bazel; under pytest their defaults are used."""
from absl import flags

# radars_tf/__init__.py sets TensorFlow's environment (oneDNN, the CPU allocator),
# which TensorFlow reads at import: before any test module imports it.
import radars_tf  # pylint: disable=unused-import,wrong-import-position

flags.FLAGS.mark_as_parsed()
