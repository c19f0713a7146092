"""Downloads (or, offline, reads from Debian's package) and prepares a TFDS dataset.

  python tools/prepare_data.py --dataset=fashion_mnist [--data_dir=...] [--manual_dir=...]
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # pylint: disable=g-import-not-at-top

from radars_tf import data
from radars_tf.errors import UserError

flags.DEFINE_string("dataset", "fashion_mnist", "Dataset to prepare.")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's own).")
flags.DEFINE_string("manual_dir", None, "Directory of manually downloaded files.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  logging.set_verbosity(logging.ERROR)
  try:
    builder = data.prepare_builder(FLAGS.dataset, FLAGS.data_dir, FLAGS.manual_dir)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  print(f"prepare_data: {FLAGS.dataset} ready in {builder.data_dir} {splits}")
  return 0


if __name__ == "__main__":
  app.run(main)
