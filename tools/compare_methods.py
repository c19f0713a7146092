"""Runs radars, dnas, rl, random and three KerasTuner oracles with the same space,
data, memory budget, search time budget and final training, over several seeds, and
writes a markdown table and the targets it meets or misses.

  python tools/compare_methods.py --out=runs/compare --seeds=0,1 \
      --max_search_seconds=240 --memory_budget_mb=512 -- --final_epochs=2

Flags after `--` go to every run. A method that refuses (DNAS over the budget) gets
its one-line reason in the table. `genotype:NAME` methods are hand-designed
baselines (radars_tf/known_genotypes.py): no search, the same final training.
Every run's TensorBoard logs lie under --out, so `tensorboard --logdir=<out>`
compares methods and seeds side by side (HParams tab: flags and test accuracy). RADARS also runs with the search time budget cut
by --short_factor: if that still matches rl's test accuracy, RADARS reached rl's
accuracy in 1/short_factor of rl's search time (the paper's claim is 2.5x).
Finished runs are reused; delete a run's directory to redo it. Every finished run's
results (its pruning history left out) also go into --ledger, under the
comparison's protocol and a digest of the package's code: a later sitting, on this
machine or another where --out's run directories are gone, takes them from there.
Keep the ledger in the repository (docs/results/) to build a table over sittings.
"""
import os
import statistics
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
import kept_results  # tools/
import run_child  # tools/
# pylint: enable=g-import-not-at-top,wrong-import-position
# tools/keras_tuner_search.py's methods: RandomSearch, Hyperband, BayesianOptimization.
KERAS_TUNERS = ("keras_tuner", "keras_tuner_hyperband", "keras_tuner_bayesian")

flags.DEFINE_string("out", "runs/compare", "Directory of the runs and the table.")
GENOTYPE = "genotype:"
flags.DEFINE_list("methods", ["radars", "dnas", "rl", "random", *KERAS_TUNERS,
                              GENOTYPE + "mobilenetv2_e3", GENOTYPE + "plain_conv"],
                  "Methods to run (genotype:NAME: a hand-designed genotype retrained).")
flags.DEFINE_list("seeds", ["0", "1"], "Seeds; every method runs each.")
flags.DEFINE_float("max_search_seconds", 240, "Search time budget of every method.")
flags.DEFINE_float("short_factor", 2.5, "RADARS also runs with the search time "
                   "budget divided by this (0: not).")
flags.DEFINE_float("memory_budget_mb", 512, "Per-replica memory budget.")
flags.DEFINE_float("target_accuracy", 92.5, "Test accuracy % RADARS should reach.")
flags.DEFINE_string("space", "large", "Search space.")
flags.DEFINE_string("dataset", "fashion_mnist", "Dataset.")
flags.DEFINE_string("ledger", "", "JSON file keeping every finished run's results "
                    "under this comparison's protocol and code (default: "
                    "<out>/ledger.json).")
FLAGS = flags.FLAGS


def protocol(extra) -> dict:
  """What a kept result depends on besides its method, seed and the code."""
  return {"space": FLAGS.space, "dataset": FLAGS.dataset,
          "memory_budget_mb": FLAGS.memory_budget_mb,
          "max_search_seconds": FLAGS.max_search_seconds,
          "short_factor": FLAGS.short_factor, "extra": list(extra)}


def run_one(method: str, seed: str, seconds: float, extra,
            ledger: kept_results.Ledger) -> dict:
  """results of one run (kept in `ledger`, or run now and kept), or
  {"refused": reason}."""
  name = f"{method.replace(':', '-')}-t{seconds:.0f}-seed{seed}"
  return ledger.run(name, lambda: start_run(method, seed, seconds, extra,
                                            os.path.join(FLAGS.out, name)))


def start_run(method: str, seed: str, seconds: float, extra, model_dir: str) -> dict:
  """results.json of the run in `model_dir`, run now unless it finished before."""
  entry = (["tools/keras_tuner_search.py"] if method in KERAS_TUNERS
           else run_child.RUN)
  if method.startswith(GENOTYPE):
    extra = [*extra, f"--genotype={method[len(GENOTYPE):]}"]
    method = "radars"         # unused: --genotype skips the search
  # The compared settings come last, so a flagfile in `extra` cannot change them.
  return run_child.run_once(
      [*extra, f"--method={method}", f"--seed={seed}", f"--space={FLAGS.space}",
       f"--dataset={FLAGS.dataset}", f"--memory_budget_mb={FLAGS.memory_budget_mb}",
       f"--max_search_seconds={seconds}",
       # rl, random and the KerasTuner oracles sample until the time budget ends.
       "--child_samples=1000000"], model_dir, entry)


def accuracies(runs):
  return [100 * r["test_accuracy"] for r in runs if "refused" not in r]


def welch_ci(a, b, level: float = 0.95):
  """(mean(a) - mean(b), low, high): Welch's t interval of the difference; the
  bounds are NaN with fewer than two values on a side."""
  diff = statistics.mean(a) - statistics.mean(b)
  if len(a) < 2 or len(b) < 2:
    return diff, float("nan"), float("nan")
  from scipy import stats  # pylint: disable=import-outside-toplevel
  va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
  se = (va + vb) ** 0.5
  if se == 0:
    return diff, diff, diff
  df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
  half = float(stats.t.ppf(0.5 + level / 2, df)) * se
  return diff, diff - half, diff + half


def mean_sd(values):
  return statistics.mean(values), (statistics.stdev(values) if len(values) > 1
                                   else 0.0)


def row(label: str, runs, reached: str) -> str:
  done = [r for r in runs if "refused" not in r]
  if not done:
    return f"| {label} | no: {runs[0]['refused']} | - | - | - | - | - | - |"
  acc, spread = mean_sd(accuracies(done))
  search = statistics.mean(r["search_seconds"] for r in done)
  peak = max(r["measured_peak_mb"] for r in done)
  params = statistics.mean(r["params"] for r in done)
  flops = statistics.mean(r["flops"] for r in done) / 1e6
  over = " **over**" if peak > done[0]["budget_mb"] else ""
  # RADARS measures its DNAS steps; a search cut before the first has none.
  peak_cell = (f"{peak:.0f} / {done[0]['budget_mb']:.0f}{over}" if peak else
               f"no DNAS step ran / {done[0]['budget_mb']:.0f}")
  return (f"| {label} | yes ({len(done)}/{len(runs)} seeds) | {acc:.2f} +- {spread:.2f}"
          f" ({', '.join(f'{a:.2f}' for a in accuracies(done))}) | {search:.0f} | "
          f"{reached} | {peak_cell} | {params:,.0f} | {flops:.1f} |")


def round_ratios(runs) -> list:
  """Measured / estimated memory of every DNAS round of `runs` (their events)."""
  return [e["peak_mb"] / e["estimate_mb"] for r in runs if "refused" not in r
          for e in r.get("events", ()) if e["kind"] == "dnas_round"]


def verdicts(results: dict, budget_mb: float, target: float, short_label: str = "",
             short_factor: float = 2.5) -> list:
  """The issue's targets, each met or missed, from the measured runs."""
  out = []

  def say(ok, text):
    out.append(f"- {'met' if ok else 'MISSED'}: {text}")
  radars = results.get("radars", [])
  done = [r for r in radars if "refused" not in r]
  if done:
    peak = max(r["measured_peak_mb"] for r in done)
    say(peak <= budget_mb, f"radars measured peak {peak:.0f} MB <= budget "
                           f"{budget_mb:.0f} MB")
    ratios = round_ratios(done)
    if ratios:
      above = sum(q > 1 for q in ratios)
      say(min(ratios) >= 0.9 and not above,
          f"radars DNAS rounds measured 0.90-1.00 of their estimates: "
          f"{min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)} "
          f"round{'s' * (len(ratios) != 1)}, "
          f"{above} above the estimate")
  if "dnas" in results:
    d = results["dnas"]
    refused = all("refused" in r for r in d)
    over = [r["measured_peak_mb"] for r in d if "refused" not in r]
    say(refused or min(over) > budget_mb,
        "dnas refuses or exceeds the budget" + (f": {d[0]['refused']}" if refused
                                                else ""))
  if not accuracies(radars):
    return out
  mine = statistics.mean(accuracies(radars))
  for other in ("rl", "random", *KERAS_TUNERS):
    if accuracies(results.get(other, [])):
      theirs = statistics.mean(accuracies(results[other]))
      diff, low, high = welch_ci(accuracies(radars), accuracies(results[other]))
      say(low > 0, f"radars {mine:.2f}% above {other} {theirs:.2f}% outside seed "
                   f"noise: difference {diff:+.2f}, 95% CI {low:+.2f} to {high:+.2f} "
                   "(Welch; same search time budget)")
  if short_label in results and accuracies(results.get("rl", [])):
    short = statistics.mean(accuracies(results[short_label]))
    rl = statistics.mean(accuracies(results["rl"]))
    say(short >= rl, f"{short_label} {short:.2f}% >= rl {rl:.2f}%: rl's accuracy "
                     f"in 1/{short_factor:g} of rl's search time")
  best = max(accuracies(radars))
  say(best >= target, f"final radars model {best:.2f}% >= {target}% on test")
  return out


def main(argv):
  extra = argv[1:]
  os.makedirs(FLAGS.out, exist_ok=True)
  ledger = kept_results.Ledger(FLAGS.ledger or os.path.join(FLAGS.out, "ledger.json"),
                               protocol(extra))
  full = FLAGS.max_search_seconds
  plan = [(m, m, full) for m in FLAGS.methods]
  short_label = ""
  if FLAGS.short_factor and "radars" in FLAGS.methods:
    short = full / FLAGS.short_factor
    short_label = f"radars @ 1/{FLAGS.short_factor:g} time"
    plan.insert(1, (short_label, "radars", short))
  lines = [
      f"{FLAGS.dataset}, space {FLAGS.space}, budget {FLAGS.memory_budget_mb:.0f} MB "
      f"per replica, search time budget {full:.0f} s, seeds {', '.join(FLAGS.seeds)}, "
      f"extra flags: {' '.join(extra) or 'none'}", "",
      "| method | completed | test accuracy % (mean +- sd; per seed) | search s | "
      "reaches rl's accuracy | peak / budget MB | params | MFLOPs |",
      "|---|---|---|---|---|---|---|---|"]
  # Seed by seed, so that a comparison stopped part-way has every method at the
  # same number of seeds.
  results = {label: [] for label, _, _ in plan}
  for seed in FLAGS.seeds:
    for label, method, seconds in plan:
      results[label].append(run_one(method, seed, seconds, extra, ledger))
  rl = accuracies(results.get("rl", []))
  for label, method, seconds in plan:
    acc = accuracies(results[label])
    reached = "-"
    if rl and acc and label != "rl":
      reached = (f"yes, within {seconds:.0f} s" if statistics.mean(acc) >=
                 statistics.mean(rl) else f"no, not within {seconds:.0f} s")
    lines.append(row(label, results[label], reached))
  lines += ["", "Targets:"] + verdicts(results, FLAGS.memory_budget_mb,
                                       FLAGS.target_accuracy, short_label,
                                       FLAGS.short_factor)
  table = "\n".join(lines) + "\n"
  with open(os.path.join(FLAGS.out, "table.md"), "w") as f:
    f.write(table)
  print(table)
  print(draw_figure(results, FLAGS.out, lines[0]))


def draw_figure(results, out: str, title: str) -> str:
  """Draws the comparison figure into `out`; returns the line saying where, or why
  not."""
  import figures  # pylint: disable=import-outside-toplevel  (tools/figures.py)
  return figures.drawn(lambda path: figures.comparison(results, path, title), out,
                       "comparison")


if __name__ == "__main__":
  app.run(main)
