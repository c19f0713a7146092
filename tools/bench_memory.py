"""Peak memory and step time of one DNAS step against candidates per layer, with
the memory model's estimate beside each (a markdown table).

  python tools/bench_memory.py --space=large --candidates=4,8,16,26 --batch_size=32
"""
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from radars_tf import memory_model, memory_probe  # pylint: disable=wrong-import-position
from radars_tf import search_space as ss  # pylint: disable=wrong-import-position

flags.DEFINE_string("space", "large", "Search space preset or JSON file.")
flags.DEFINE_list("candidates", ["4", "8", "16", "26"], "Candidates per layer.")
flags.DEFINE_integer("batch_size", 32, "Per-replica batch size.")
flags.DEFINE_integer("image_size", 28, "Input height and width.")
flags.DEFINE_integer("channels", 1, "Input channels.")
flags.DEFINE_integer("steps", 2, "Timed steps per size.")
FLAGS = flags.FLAGS


def first_k(space, k):
  """The first k candidates of every layer (the whole layer if it has fewer)."""
  return ss.Subspace(tuple(tuple(range(min(k, len(c)))) for c in space.candidates()))


def main(argv):
  del argv
  space = ss.load(FLAGS.space)
  shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
  print(f"space {space.name}, {space.num_layers} layers, input {shape}, batch "
        f"{FLAGS.batch_size}, {platform.machine()} {os.cpu_count()} cores, "
        f"device {memory_probe.device_name()}\n")
  print("| candidates/layer | log10 size | estimate MB | measured peak MB | "
        "measured/estimate | step s |")
  print("|---|---|---|---|---|---|")
  for k in (int(c) for c in FLAGS.candidates):
    sub = first_k(space, k)
    est = memory_model.estimate(space, sub, shape, 10, FLAGS.batch_size)
    got = memory_probe.measure_dnas_step(space, sub, shape, 10, FLAGS.batch_size,
                                         FLAGS.steps)
    print(f"| {k} | {sub.log10_size():.1f} | {est.total_mb:.0f} | "
          f"{got.peak_bytes / 2**20:.0f} | {got.peak_bytes / est.total:.2f} | "
          f"{got.step_seconds:.2f} |", flush=True)


if __name__ == "__main__":
  app.run(main)
