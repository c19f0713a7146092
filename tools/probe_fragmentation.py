"""How much of a DNAS pass's measured peak is the allocator's, not the tensors':
the pass runs under TensorFlow's profiler, whose allocator events give each live
allocation's requested bytes and the chunk BFC handed it (a free chunk of up to
twice the request is not split). At the allocator's peak it prints the bytes in
use, the live requests, the chunks' bytes, and the allocations that waste most.

  python tools/probe_fragmentation.py --space=xlarge --ops=mbconv_e6_k3 --batch=64

`--ops` lists candidates kept in every layer that has them (a layer with none keeps
its first); `--run_dir` with `--event` takes a subspace a search recorded instead
(with the run's space and dataset; the batch is still `--batch`, per replica).
"""
import json
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from radars_tf import data, memory_model, memory_probe
from radars_tf import search_space as ss
from radars_tf.config import RunConfig

MB = memory_model.MB
FLAGS = flags.FLAGS
flags.DEFINE_string("space", "xlarge", "Search space.")
flags.DEFINE_list("ops", ["mbconv_e6_k3"], "Candidates kept in every layer.")
flags.DEFINE_string("run_dir", "", "A search's directory: probe a recorded subspace.")
flags.DEFINE_integer("event", -1, "Which of the run's dnas_round/out_of_memory "
                     "events (index among them; -1: the last).")
flags.DEFINE_integer("batch", 64, "Per-replica batch.")
flags.DEFINE_enum("part", "weight", ["weight", "alpha"], "Which pass to profile.")
flags.DEFINE_integer("top", 10, "Allocations listed, most wasteful first.")


def run_config() -> RunConfig:
  with open(os.path.join(FLAGS.run_dir, "config.json")) as f:
    return RunConfig.from_json(f.read())


def subspace_from_flags(space: ss.SearchSpace) -> ss.Subspace:
  if FLAGS.run_dir:
    with open(os.path.join(FLAGS.run_dir, "search_state.json")) as f:
      events = [e for e in json.load(f)["events"]
                if e["kind"] in ("dnas_round", "out_of_memory")]
    return ss.Subspace.from_json(events[FLAGS.event]["alive"])
  alive = []
  for names in space.candidates():
    kept = tuple(i for i, n in enumerate(names) if n in FLAGS.ops)
    alive.append(kept or (0,))
  return ss.Subspace(tuple(alive))


def live_at_peak(events):
  """(bytes in use, {address: (requested, chunk, op, shape)}) at the peak."""
  live, best = {}, (-1, {})
  for _, kind, st in events:
    if kind == "MemoryAllocation":
      live[st["addr"]] = (st["requested_bytes"], st["allocation_bytes"],
                          st.get("tf_op", ""), st.get("shape", ""))
    else:
      live.pop(st["addr"], None)
    if st["bytes_allocated"] > best[0]:
      best = (st["bytes_allocated"], dict(live))
  return best


def main(argv):
  del argv
  if not memory_probe.counts_small_allocations():
    raise app.UsageError("the allocator's statistics are not BFC's here "
                         "(TF_CPU_ALLOCATOR_USE_BFC must be on: import radars_tf "
                         "first)")
  shape, classes, space_name = (28, 28, 1), 10, FLAGS.space
  if FLAGS.run_dir:                  # the run's space and dataset
    cfg = run_config()
    source = data.DataSource(cfg.dataset, max_train_examples=64,
                             max_test_examples=64)
    shape, classes, space_name = (source.input_shape, source.spec.num_classes,
                                  cfg.space)
  space = ss.load(space_name)
  sub = subspace_from_flags(space)
  est = memory_model.estimate(space, sub, shape, classes, FLAGS.batch)
  rig = memory_probe.DnasRig(space, sub, shape, classes, FLAGS.batch)
  run = rig.passes[FLAGS.part]
  run()
  run()                               # traced, optimizer slots made
  owned = rig.owned()
  held = memory_probe.variable_bytes(owned)
  meter = memory_probe.PeakMeter(owned)
  events = memory_probe.profiled_events(run)
  claimed = meter.claimed() - held
  in_use, live = live_at_peak(events)
  term = est.weight_pass if FLAGS.part == "weight" else est.alpha_activations
  requested = sum(r for r, _, _, _ in live.values())
  chunks = sum(c for _, c, _, _ in live.values())
  print(f"space {space.name}, {sub.num_alive()} candidates alive, batch "
        f"{FLAGS.batch}, {FLAGS.part} pass")
  print(f"| claimed above what is held MB | its term MB | at the allocator's peak: "
        f"in use MB | of it, allocated in the pass: requested MB | chunks MB | "
        f"waste (chunks - requested) MB |")
  print("|---|---|---|---|---|---|")
  print(f"| {claimed / MB:.1f} | {term / MB:.1f} | {in_use / MB:.1f} | "
        f"{requested / MB:.1f} | {chunks / MB:.1f} | {(chunks - requested) / MB:.1f} |")
  print("\n| requested MB | chunk MB | op | shape |\n|---|---|---|---|")
  for r, c, op, shape_ in sorted(live.values(), key=lambda v: v[0] - v[1])[:FLAGS.top]:
    print(f"| {r / MB:.2f} | {c / MB:.2f} | {op} | {shape_} |")


if __name__ == "__main__":
  app.run(main)
