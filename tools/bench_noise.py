"""How much a comparison of search methods can see: the final protocol's noise.

One genotype retrained over several training seeds (the spread a method's result
has even when its search finds the same architecture every time), and random
genotypes of the space retrained once each (the spread between architectures the
search chooses among). From the seed spread: the smallest difference of mean test
accuracy that n seeds per method would see (two-sided 95%, power 80%), and the
seeds a 0.5-point difference needs.

Every run is kept under --out and reused, and its results in --ledger (under the
protocol and a digest of the package's code), so the table can be built over
several sittings, also where --out's runs are gone; flags after `--` go to every
run (its final protocol):

  python tools/bench_noise.py --out=runs/noise --space=large -- --final_epochs=1
"""
import math
import os
import statistics
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
import kept_results  # tools/
import run_child  # tools/
from radars_tf import known_genotypes
from radars_tf.errors import UserError
# pylint: enable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string("out", "runs/noise", "Directory of the runs and the table.")
flags.DEFINE_string("space", "large", "Search space.")
flags.DEFINE_string("dataset", "fashion_mnist", "Dataset.")
flags.DEFINE_string("genotype", "mobilenetv2_e3",
                    "The genotype retrained over --seeds (a known name or a file).")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Training seeds of --genotype.")
flags.DEFINE_integer("random_genotypes", 20, "Random genotypes, one seed each.")
flags.DEFINE_integer("arch_seed", 0, "Seed of the random genotypes.")
flags.DEFINE_string("ledger", "", "JSON file keeping every finished run's results "
                    "(default: <out>/ledger.json).")
flags.DEFINE_float("difference", 0.5, "Difference (points) a comparison must see.")
FLAGS = flags.FLAGS

Z_95, Z_POWER_80 = 1.959964, 0.841621


def detectable(sd: float, seeds: int) -> float:
  """Smallest true difference of two methods' mean accuracy that `seeds` runs per
  method detect with a two-sided 5% test at 80% power (normal approximation)."""
  return (Z_95 + Z_POWER_80) * sd * math.sqrt(2 / seeds)


def seeds_needed(sd: float, difference: float) -> int:
  return max(2, math.ceil(2 * ((Z_95 + Z_POWER_80) * sd / difference) ** 2))


def random_genotypes(space, count: int, seed: int):
  """`count` genotypes with every layer's op drawn uniformly, as `random` draws."""
  from radars_tf import genotype  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  return [genotype.from_choices(space, [rng.integers(len(c))
                                        for c in space.candidates()])
          for _ in range(count)]


def accuracy_table(label: str, runs) -> str:
  acc = [100 * r["test_accuracy"] for r in runs if "refused" not in r]
  if len(acc) < 2:
    return f"| {label} | {len(acc)} | - | - | - |"
  return (f"| {label} | {len(acc)} | {statistics.mean(acc):.2f} | "
          f"{statistics.stdev(acc):.2f} | {min(acc):.2f}-{max(acc):.2f} |")


def main(argv):
  from radars_tf import search_space  # pylint: disable=import-outside-toplevel
  extra = argv[1:]
  try:
    known_genotypes.check_name(FLAGS.genotype)
  except UserError as e:
    raise SystemExit(f"error: {e}") from None
  space = search_space.load(FLAGS.space)
  os.makedirs(FLAGS.out, exist_ok=True)
  ledger = kept_results.Ledger(
      FLAGS.ledger or os.path.join(FLAGS.out, "ledger.json"),
      {"space": FLAGS.space, "dataset": FLAGS.dataset, "genotype": FLAGS.genotype,
       "arch_seed": FLAGS.arch_seed, "extra": extra})
  common = [*extra, f"--space={FLAGS.space}", f"--dataset={FLAGS.dataset}"]

  def run(name: str, args) -> dict:
    return ledger.run(name, lambda: run_child.run_once(
        [*common, *args], os.path.join(FLAGS.out, name)))
  seeded = []
  for seed in FLAGS.seeds:
    seeded.append(run(f"genotype-seed{seed}",
                      [f"--genotype={FLAGS.genotype}", f"--seed={seed}"]))
    print(f"{FLAGS.genotype} seed {seed}: "
          f"{seeded[-1].get('test_accuracy', seeded[-1])}", flush=True)
  randoms = []
  for i, geno in enumerate(random_genotypes(space, FLAGS.random_genotypes,
                                            FLAGS.arch_seed)):
    path = os.path.join(FLAGS.out, f"random{i:02d}.json")
    if not os.path.exists(path):      # the protocol fixes it: kept, not rewritten
      with open(path, "w") as f:
        f.write(geno.to_json())
    randoms.append(run(f"random{i:02d}-seed0",
                       [f"--genotype={os.path.abspath(path)}", "--seed=0"]))
    print(f"random genotype {i}: {randoms[-1].get('test_accuracy', randoms[-1])}",
          flush=True)
  lines = [f"{FLAGS.dataset}, space {FLAGS.space}, final protocol flags: "
           f"{' '.join(extra) or 'defaults'}", "",
           "| runs | n | mean test accuracy % | sd | range |", "|---|---|---|---|---|",
           accuracy_table(f"{FLAGS.genotype}, training seeds {','.join(FLAGS.seeds)}",
                          seeded),
           accuracy_table(f"random genotypes (arch seed {FLAGS.arch_seed}), "
                          "training seed 0", randoms)]
  acc = [100 * r["test_accuracy"] for r in seeded if "refused" not in r]
  if len(acc) >= 2:
    sd = statistics.stdev(acc)
    lines += ["", f"Seed sd {sd:.2f} points: a difference of mean test accuracy "
              "seen with n seeds per method (two-sided 95%, power 80%): " +
              ", ".join(f"n={n}: {detectable(sd, n):.2f}" for n in (2, 3, 5, 10)) +
              f"; {FLAGS.difference:g} points needs n={seeds_needed(sd, FLAGS.difference)}"
              " seeds per method if every seed's search finds the same architecture."]
  arch = [100 * r["test_accuracy"] for r in randoms if "refused" not in r]
  if len(arch) >= 2:
    sd = statistics.stdev(arch)
    lines += ["", f"Architecture sd {sd:.2f} points (seed noise included): if a "
              "method's searches find architectures as varied as random ones, "
              f"{FLAGS.difference:g} points needs n={seeds_needed(sd, FLAGS.difference)}"
              " seeds per method; n=2 sees " f"{detectable(sd, 2):.2f}, n=5 "
              f"{detectable(sd, 5):.2f}, n=10 {detectable(sd, 10):.2f}."]
  refused = [r["refused"] for r in seeded + randoms if "refused" in r]
  if refused:
    lines += ["", f"{len(refused)} runs failed; first: {refused[0]}"]
  table = "\n".join(lines) + "\n"
  with open(os.path.join(FLAGS.out, "table.md"), "w") as f:
    f.write(table)
  print(table)


if __name__ == "__main__":
  app.run(main)
