"""Measures the search_context term of the memory model: every DNAS round that
finished runs recorded (`search_state.json`: its subspace, estimate and measured
peak) against the same subspace's step measured in a fresh process, on random
batches and on the run's real input pipeline.

  python tools/probe_rounds.py runs/compare6/radars-t240-seed*

Prints one row per round: the estimate without and with the search_context term,
the fresh probes, the round's own peak, and the share of the weight pass's
activations the round measured above the fresh probe on random batches.
"""
import json
import os
import sys

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from radars_tf import data, memory_model, memory_probe
from radars_tf import search_space as ss
from radars_tf.config import RunConfig

MB = memory_model.MB


def rounds(run_dir: str):
  """(config, dnas_round events) of one run directory."""
  with open(os.path.join(run_dir, "config.json")) as f:
    cfg = RunConfig.from_json(f.read())
  with open(os.path.join(run_dir, "search_state.json")) as f:
    events = json.load(f)["events"]
  return cfg, [e for e in events if e["kind"] == "dnas_round"]


def main(argv):
  runs = argv[1:]
  if not runs:
    raise app.UsageError("give one or more run directories")
  print("| run | round | estimate without / with search_context MB | fresh, random "
        "batches | fresh, real pipeline | the round in its search | (round - fresh "
        "random) / weight-pass activations |")
  print("|---|---|---|---|---|---|---|")
  for run_dir in runs:
    cfg, events = rounds(run_dir)
    space = ss.load(cfg.space)
    source = data.DataSource(cfg.dataset)
    shape, classes = source.input_shape, source.spec.num_classes
    for e in events:
      sub = ss.Subspace.from_json(e["alive"])
      est = memory_model.estimate(space, sub, shape, classes, cfg.batch_size)
      probes = [memory_probe.measure_in_fresh_process(
          space, sub, shape, classes, cfg.batch_size, steps=5, dataset=dataset,
          full_dataset=True) for dataset in ("", cfg.dataset)]
      fresh = [max(p.peak_bytes, p.first_step_bytes) / MB for p in probes]
      excess = (e["peak_mb"] - fresh[0]) * MB / est.weight_activations
      print(f"| {os.path.basename(run_dir.rstrip('/'))} | {e['round']} | "
            f"{est.probe_total / MB:.1f} / {est.total / MB:.1f} | "
            f"{fresh[0]:.1f} ({fresh[0] * MB / est.total:.2f}) | "
            f"{fresh[1]:.1f} ({fresh[1] * MB / est.total:.2f}) | "
            f"{e['peak_mb']:.1f} ({e['peak_mb'] * MB / est.total:.2f}) | "
            f"{excess:.3f} |", flush=True)


if __name__ == "__main__":
  app.run(main)
