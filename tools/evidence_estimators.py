"""Other estimators on the rewards a `bench_ranking` run kept: do they rank the
ground truth's architectures better than the search's evidence, and how many
rewards does the evidence need?

  .venv/bin/python tools/evidence_estimators.py --run=DIR [--phase=1]

Reads DIR/scores.json (the ground truth and its architectures) and
DIR/evidence_<phase>.json (every reward up to that RL phase, as the search keeps
them), and prints Kendall tau (95% bootstrap interval) against the ground truth
of each architecture's summed candidate effects: the ridge regression at several
strengths (with each one's cross-validated error on the rewards, which a search
could use to choose it without the ground truth), plain per-candidate means, and
the search's regression on the first n rewards in the order they were collected.
No training: seconds.
"""
import json
import os
import sys

from absl import app, flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_ranking import tau_interval, kendall_spearman  # pylint: disable=wrong-import-position
from radars_tf.evidence import Evidence, design  # pylint: disable=wrong-import-position

flags.DEFINE_string("run", None, "Output directory of a bench_ranking run.")
flags.DEFINE_integer("phase", 1, "Use the rewards kept after this RL phase.")
flags.DEFINE_list("ridge", ["0.0001", "0.1", "1", "3", "10", "30", "100", "1000"],
                  "Ridge strengths to compare (the search uses evidence.RIDGE).")
flags.DEFINE_integer("prefix_step", 128, "Rewards added per row of the prefix curve.")
FLAGS = flags.FLAGS


def ridge_effects(choices: np.ndarray, rewards: np.ndarray, shape, lam: float
                  ) -> np.ndarray:
  """[layers, candidates] effects of the search's ridge regression of `rewards`
  on the one-hot `choices`, at strength `lam`."""
  return Evidence.of(choices, rewards, shape, lam).fit()[0]


def cv_error(choices, rewards, shape, lam: float, folds: int = 5) -> float:
  """Mean squared error of the regression on held-out rewards (k-fold, seeded)."""
  idx = np.random.default_rng(0).permutation(len(rewards))
  error = 0.0
  for f in range(folds):
    test = idx[f::folds]
    train = np.setdiff1d(idx, test)
    beta = ridge_effects(choices[train], rewards[train], shape, lam).ravel()
    x = design(choices[test], shape[1])
    error += float(((x @ beta - rewards[test]) ** 2).sum())
  return error / len(rewards)


def candidate_means(choices, rewards, shape) -> np.ndarray:
  """Each candidate's mean reward (0 where it has none): the evidence before the
  regression."""
  out = np.zeros(shape)
  for layer in range(shape[0]):
    for cand in range(shape[1]):
      chosen = choices[:, layer] == cand
      if chosen.any():
        out[layer, cand] = rewards[chosen].mean()
  return out


def summed(table: np.ndarray, archs: np.ndarray) -> np.ndarray:
  """Each architecture's sum over layers of its choice's entry."""
  return table[np.arange(table.shape[0]), archs].sum(axis=1)


def main(argv):
  del argv
  run = FLAGS.run
  if not run:
    raise SystemExit("error: --run=DIR (a bench_ranking output directory) is required")
  paths = [os.path.join(run, "scores.json"),
           os.path.join(run, f"evidence_{FLAGS.phase}.json")]
  for path in paths:
    if not os.path.exists(path):
      raise SystemExit(f"error: {path} not found (bench_ranking writes scores.json "
                       "at its end, evidence_<phase>.json since commit 95f2ab7)")
  with open(paths[0]) as f:
    scores = json.load(f)
  with open(paths[1]) as f:
    evidence = Evidence.from_json(json.load(f))
  truth, archs = np.asarray(scores["truth"]), np.asarray(scores["archs"])
  shape, ch, r = evidence.count.shape, evidence.choices, evidence.rewards

  def line(name, table):
    s = summed(table, archs)
    tau = kendall_spearman(s, truth)[0]
    low, high = tau_interval(s, truth)
    print(f"| {name} | {tau:.3f} | {low:.2f} to {high:.2f} |")

  print(f"{len(r)} rewards, {shape[0]} x {shape[1]} candidates, rewards per "
        f"candidate min {evidence.count.min():.0f}, median "
        f"{np.median(evidence.count):.0f}; {len(archs)} architectures\n")
  print("| estimator | Kendall tau | 95% interval |\n|---|---|---|")
  for lam in map(float, FLAGS.ridge):
    line(f"ridge {lam:g} (cross-validated error {cv_error(ch, r, shape, lam):.3g})",
         ridge_effects(ch, r, shape, lam))
  line("per-candidate means", candidate_means(ch, r, shape))
  for n in range(FLAGS.prefix_step, len(r) + FLAGS.prefix_step, FLAGS.prefix_step):
    n = min(n, len(r))
    line(f"the search's evidence on the first {n} rewards",
         np.nan_to_num(evidence.head(n).mean()))
  return 0


if __name__ == "__main__":
  app.run(main)
