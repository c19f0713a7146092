"""Do shared weights learn? Supernet weights trained on a uniformly random path per
step (SPOS, as the warm-up and RL phases train them), and scored every --every
steps on --eval_paths fresh random paths over --val_batches validation batches
of real Fashion-MNIST. Compares the space as defined (residual: a shortcut plus
each op as a zero-initialised branch) with the same space made plain (each layer
its op alone), or whichever --variants are asked for.

  .venv/bin/python tools/bench_shared_weights.py --space=large --steps=300
"""
import dataclasses
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import radars_tf  # pylint: disable=unused-import  (sets TensorFlow's environment first)
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from radars_tf import data, single_path
from radars_tf import search_space as ss
from radars_tf.supernet import Supernet
# pylint: enable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string("space", "large", "Search space preset or JSON file.")
flags.DEFINE_list("variants", ["residual", "plain"], "residual and/or plain.")
flags.DEFINE_integer("steps", 300, "Shared-weight steps.")
flags.DEFINE_integer("every", 100, "Score every this many steps.")
flags.DEFINE_integer("eval_paths", 5, "Random paths scored each time.")
flags.DEFINE_integer("val_batches", 8, "Validation batches per path.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_float("lr", 0.05, "Learning rate (the search's --w_lr default).")
flags.DEFINE_integer("seed", 0, "Seed of weights, data and paths.")
FLAGS = flags.FLAGS


def run(space: ss.SearchSpace, source: data.DataSource) -> list:
  """[(step, mean train loss since the last row, mean random-path accuracy, sd)]."""
  strategy = tf.distribute.get_strategy()
  tf.keras.utils.set_random_seed(FLAGS.seed)
  sub = ss.Subspace.full(space)
  net = Supernet(space, sub, source.input_shape, source.spec.num_classes)
  trainer = single_path.SinglePathTrainer(net, strategy, FLAGS.batch_size, FLAGS.lr)
  train = iter(source.distributed(strategy, "search_train", FLAGS.batch_size, True,
                                  FLAGS.seed))
  val = list(source.dataset("search_val", FLAGS.batch_size, False)
             .take(FLAGS.val_batches))
  rng = np.random.default_rng(FLAGS.seed)

  def path():
    return tuple(int(rng.choice(a)) for a in sub.alive)
  rows, losses = [], []
  for step in range(1, FLAGS.steps + 1):
    losses.append(trainer.train_path(train, path()))
    if step % FLAGS.every == 0:
      accs = [trainer.score(iter(val), path(), len(val))
              for _ in range(FLAGS.eval_paths)]
      rows.append((step, float(np.mean(losses)), float(np.mean(accs)),
                   float(np.std(accs))))
      losses = []
      print(f"{space.name} residual={space.residual} step {step}: loss "
            f"{rows[-1][1]:.3f}, random-path accuracy {rows[-1][2]:.3f}", flush=True)
  return rows


def main(argv):
  del argv
  logging.set_verbosity(logging.ERROR)
  base = ss.load(FLAGS.space)
  source = data.DataSource("fashion_mnist", seed=FLAGS.seed)
  lines = [f"space {base.name}, uniform random path per step, batch "
           f"{FLAGS.batch_size}, SGD {FLAGS.lr}; {FLAGS.eval_paths} random paths "
           f"scored on {FLAGS.val_batches * FLAGS.batch_size} validation images "
           "(chance 0.10)", "",
           "| layers | step | train loss (mean since last row) | random-path accuracy "
           "(mean, sd) |", "|---|---|---|---|"]
  for variant in FLAGS.variants:
    space = dataclasses.replace(base, residual=variant == "residual")
    start = time.time()
    for step, loss, acc, sd in run(space, source):
      lines.append(f"| {variant} | {step} | {loss:.3f} | {acc:.3f} ({sd:.3f}) |")
    lines.append(f"| {variant} | {time.time() - start:.0f} s in all | | |")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  app.run(main)
