"""Peak memory of DNAS and of RADARS against candidates per layer (a markdown table).

DNAS: one step of the whole supernet (the first k candidates of every layer), its
allocator peak measured and the memory model's estimate beside it. RADARS: a short
real search (Fashion-MNIST) of the same space under --budget_mb; its measured peak
is the highest of its DNAS rounds (each round's first, tracing step and its input
pipeline included), after the agent pruned until the estimate fit. Its estimate
column is the final subspace's; the first round's is at most the budget.

  python tools/bench_memory.py --space=xlarge --candidates=4,8,16,26,32,36 \
      --batch_size=32 --budget_mb=256
"""
import dataclasses
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app, flags, logging

from radars_tf import data, memory_model, memory_probe, search_loop, search_methods
from radars_tf import search_space as ss
from radars_tf.config import RunConfig
from radars_tf.summaries import Progress, Summaries
# pylint: enable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string("space", "xlarge", "Search space preset or JSON file.")
flags.DEFINE_list("candidates", ["4", "8", "16", "26", "32", "36"],
                  "Candidates per layer (the first k of every layer).")
flags.DEFINE_integer("batch_size", 32, "Per-replica batch size.")
flags.DEFINE_float("budget_mb", 256, "RADARS memory budget.")
flags.DEFINE_bool("radars", True, "Also run a short RADARS search at every size.")
flags.DEFINE_integer("steps", 2, "Timed DNAS steps per size.")
FLAGS = flags.FLAGS

# A short search: enough RL phases to prune to the budget, two DNAS rounds.
RADARS = dict(method="radars", dataset="fashion_mnist", max_train_examples=2048,
              max_test_examples=256, warmup_steps=10, rl_iterations_per_phase=1,
              episodes_per_iteration=4, path_train_steps=2, dnas_rounds=2,
              dnas_steps_per_round=3, rl_phases_max=40)


def first_k(space: ss.SearchSpace, k: int) -> ss.SearchSpace:
  """`space` with only the first k candidates of every layer."""
  return dataclasses.replace(
      space, name=f"{space.name}-first{k}", ops=space.ops[:k],
      stages=tuple(dataclasses.replace(s, ops=s.ops[:k] if s.ops else None)
                   for s in space.stages))


def radars_search(space: ss.SearchSpace, source: data.DataSource):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  cfg = RunConfig(**RADARS, space=space.name, batch_size=FLAGS.batch_size,
                  memory_budget_mb=FLAGS.budget_mb).validate()
  tf.keras.backend.clear_session()
  ctx = search_loop.SearchContext(
      cfg, space, source, tf.distribute.get_strategy(),
      Summaries(tempfile.mkdtemp(prefix="bench_memory_")), Progress(quiet=True))
  search = search_methods.make_search(ctx)
  start = time.time()
  out = search.run()
  phases = sum(e["kind"] == "rl_phase" for e in out.events)
  rounds = sum(e["kind"] == "dnas_round" for e in out.events)
  return out, phases, rounds, time.time() - start


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  logging.set_verbosity(logging.ERROR)
  tf.get_logger().setLevel("ERROR")
  space = ss.load(FLAGS.space)
  source = data.DataSource("fashion_mnist", max_train_examples=2048,
                           max_test_examples=256) if FLAGS.radars else None
  shape = (28, 28, 1)
  print(f"space {space.name}, {space.num_layers} layers, input {shape}, batch "
        f"{FLAGS.batch_size}, RADARS budget {FLAGS.budget_mb:.0f} MB, "
        f"{platform.machine()} {os.cpu_count()} cores, device "
        f"{memory_probe.device_name()}\n")
  print("| candidates/layer | log10 size | DNAS estimate MB | DNAS measured peak MB | "
        "DNAS step s | RADARS RL phases / DNAS rounds | RADARS final subspace estimate MB "
        "| RADARS measured peak MB | RADARS within budget | RADARS search s |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  for k in (int(c) for c in FLAGS.candidates):
    sub_space = first_k(space, k)
    full = ss.Subspace.full(sub_space)
    est = memory_model.estimate(sub_space, full, shape, 10, FLAGS.batch_size)
    got = memory_probe.measure_dnas_step(sub_space, full, shape, 10,
                                         FLAGS.batch_size, FLAGS.steps)
    cells = [f"{k}", f"{full.log10_size():.1f}", f"{est.total_mb:.0f}",
             f"{got.peak_bytes / 2**20:.0f}" + (" (over)" if got.peak_bytes / 2**20
                                                 > FLAGS.budget_mb else ""),
             f"{got.step_seconds:.2f}"]
    if FLAGS.radars:
      out, phases, rounds, seconds = radars_search(sub_space, source)
      peak = out.peak_step_bytes / 2**20
      cells += [f"{phases} / {rounds}", f"{out.estimate_mb:.0f}", f"{peak:.0f}",
                "yes" if peak <= FLAGS.budget_mb else "**no**", f"{seconds:.0f}"]
    else:
      cells += ["-"] * 5
    print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
  app.run(main)
