"""Runs radars, dnas, rl and random with the same space, data, memory budget, search
time budget and final training, over several seeds, and writes a markdown table.

  python tools/compare_methods.py --out=runs/compare --seeds=0,1 \
      --max_search_seconds=900 --memory_budget_mb=512 -- --final_epochs=4

Flags after `--` go to every `python -m radars_tf.run`. A method that refuses (DNAS
over the budget) gets its one-line reason in the table.
"""
import json
import os
import statistics
import subprocess
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("out", "runs/compare", "Directory of the runs and the table.")
flags.DEFINE_list("methods", ["radars", "dnas", "rl", "random"], "Methods to run.")
flags.DEFINE_list("seeds", ["0", "1"], "Seeds; every method runs each.")
flags.DEFINE_float("max_search_seconds", 900, "Search time budget of every method.")
flags.DEFINE_float("memory_budget_mb", 512, "Per-replica memory budget.")
flags.DEFINE_string("space", "large", "Search space.")
flags.DEFINE_string("dataset", "fashion_mnist", "Dataset.")
FLAGS = flags.FLAGS


def run_one(method: str, seed: str, extra) -> dict:
  """results.json of one run, or {"refused": reason}."""
  model_dir = os.path.join(FLAGS.out, f"{method}-seed{seed}")
  results = os.path.join(model_dir, "results.json")
  if not os.path.exists(results):
    proc = subprocess.run(
        # The compared settings come last, so a flagfile in `extra` cannot change them.
        [sys.executable, "-m", "radars_tf.run", *extra, f"--method={method}",
         f"--seed={seed}", f"--space={FLAGS.space}", f"--dataset={FLAGS.dataset}",
         f"--memory_budget_mb={FLAGS.memory_budget_mb}",
         f"--max_search_seconds={FLAGS.max_search_seconds}",
         f"--model_dir={model_dir}", "--quiet"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
        text=True, check=False)
    if proc.returncode:
      lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
      return {"refused": lines[-1][len("error: "):] if lines
              else f"exit {proc.returncode}"}
  with open(results) as f:
    return json.load(f)


def row(method: str, runs) -> str:
  done = [r for r in runs if "refused" not in r]
  if not done:
    return f"| {method} | no: {runs[0]['refused']} | - | - | - | - | - |"
  acc = [100 * r["test_accuracy"] for r in done]
  spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
  search = statistics.mean(r["search_seconds"] for r in done)
  peak = max(r["measured_peak_mb"] for r in done)
  params = statistics.mean(r["params"] for r in done)
  flops = statistics.mean(r["flops"] for r in done) / 1e6
  return (f"| {method} | yes ({len(done)}/{len(runs)} seeds) | {statistics.mean(acc):.2f}"
          f" +- {spread:.2f} | {search:.0f} | {peak:.0f} / {done[0]['budget_mb']:.0f} | "
          f"{params:,.0f} | {flops:.1f} |")


def main(argv):
  extra = argv[1:]
  os.makedirs(FLAGS.out, exist_ok=True)
  lines = [
      f"{FLAGS.dataset}, space {FLAGS.space}, budget {FLAGS.memory_budget_mb:.0f} MB "
      f"per replica, search time budget {FLAGS.max_search_seconds:.0f} s, seeds "
      f"{', '.join(FLAGS.seeds)}, extra flags: {' '.join(extra) or 'none'}", "",
      "| method | completed | test accuracy % (mean +- sd) | search s | peak / budget MB"
      " | params | MFLOPs |", "|---|---|---|---|---|---|---|"]
  for method in FLAGS.methods:
    runs = [run_one(method, seed, extra) for seed in FLAGS.seeds]
    lines.append(row(method, runs))
    print(lines[-1], flush=True)
  table = "\n".join(lines) + "\n"
  with open(os.path.join(FLAGS.out, "table.md"), "w") as f:
    f.write(table)
  print(table)


if __name__ == "__main__":
  app.run(main)
