"""pytest support: absltest-based tests read absl flags, which absltest.main parses
under Bazel; under pytest their defaults are used."""
import os

from absl import flags

# As radars_tf/__init__.py sets it, before any test module imports TensorFlow.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

flags.FLAGS.mark_as_parsed()
