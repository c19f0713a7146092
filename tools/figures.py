"""Figures the benchmarks draw (matplotlib, a benchmark-only package): the found
architecture layer by layer, search proxies against stand-alone accuracy, the
methods' comparison, and memory against candidates per layer. `to_tensorboard`
also puts a figure into a TensorBoard logdir (Images tab).

  .venv/bin/python tools/figures.py --model_dir=runs/fashion_mnist \
      --out=docs/figures/architecture.png
"""
import json
import os
import sys
from typing import Callable, Dict, Sequence

import numpy as np

try:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position
  MISSING = ""
except ImportError as _e:            # a benchmark extra: bash tools/setup.sh --bench
  plt, MISSING = None, _e.name

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def architecture(space, ops: Sequence[str], input_shape, num_classes: int,
                 path: str, title: str = "") -> None:
  """One bar per searchable layer: its op's forward MFLOPs, labelled with the op,
  its output channels and stride; the shortcut's FLOPs stacked on it."""
  from radars_tf import memory_model, ops as ops_lib  # pylint: disable=import-outside-toplevel
  layers = space.layers(input_shape[0])
  op_mflops = [2 * ops_lib.op_cost(op, l.hw, l.cin, l.cout, l.stride).macs / 1e6
               for op, l in zip(ops, layers)]
  around = [2 * c.macs / 1e6 for c in memory_model.shortcut_costs(space,
                                                                  tuple(input_shape))]
  total = 2 * memory_model.model_macs(space, ops, input_shape, num_classes) / 1e6
  fig, ax = plt.subplots(figsize=(10, 4.2))
  x = np.arange(len(layers))
  ax.bar(x, op_mflops, color="tab:blue", label="op")
  ax.bar(x, around, bottom=op_mflops, color="tab:gray", label="shortcut")
  for i, (op, l) in enumerate(zip(ops, layers)):
    ax.text(i, op_mflops[i] + around[i], f" {op}", rotation=90, ha="center",
            va="bottom", fontsize=8)
  ax.set_xticks(x, [f"{l.cout}\n/{l.stride}" for l in layers], fontsize=8)
  ax.set_xlabel("searchable layer: output channels / stride")
  ax.set_ylabel("forward MFLOPs per example")
  ax.set_ylim(0, max(np.add(op_mflops, around)) * 1.9 + 1e-6)
  ax.set_title(title or f"{space.name}: {total:.1f} MFLOPs in all")
  ax.legend(loc="upper right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def ranking(truth: Sequence[float], proxies: Dict[str, Sequence[float]],
            taus: Dict[str, float], path: str, title: str) -> None:
  """One panel per proxy: its score of each architecture against the
  architecture's stand-alone accuracy, with Kendall's tau."""
  fig, axes = plt.subplots(1, len(proxies), figsize=(3.2 * len(proxies), 3.2),
                           squeeze=False)
  for ax, (name, scores) in zip(axes[0], proxies.items()):
    ax.scatter(truth, scores, s=14)
    ax.set_title(f"{name}\ntau {taus[name]:.2f}", fontsize=9)
    ax.set_xlabel("stand-alone accuracy", fontsize=8)
    ax.tick_params(labelsize=7)
  axes[0][0].set_ylabel("proxy score", fontsize=8)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def comparison(runs: Dict[str, Sequence[dict]], path: str, title: str) -> None:
  """Left: best validation score found against search time, per method the mean
  over seeds and the seeds' range. Right: test accuracy per method, one dot per
  seed and the mean. `runs` maps a method's label to its runs' results.json."""
  fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2),
                                    gridspec_kw={"width_ratios": [3, 2]})
  labels = [m for m, rs in runs.items() if any("refused" not in r for r in rs)]
  colors = dict(zip(labels, plt.cm.tab10(np.arange(len(labels)) % 10)))
  for label in labels:
    curves = [r["best_curve"] for r in runs[label]
              if "refused" not in r and r.get("best_curve")]
    if not curves:
      continue
    end = max(c[-1][0] for c in curves)
    grid = np.linspace(0, end, 200)
    # Best so far at each time: a step function, NaN before a run's first score
    # (so the lines start where every seed has one).
    ys = np.array([[max((b for t, b in c if t <= g), default=np.nan) for g in grid]
                   for c in curves])
    left.plot(grid, ys.mean(axis=0), color=colors[label],
              label=f"{label} ({len(curves)} seeds)")
    if len(curves) > 1:
      left.fill_between(grid, ys.min(axis=0), ys.max(axis=0), color=colors[label],
                        alpha=0.15)
  left.set_xlabel("search time, s")
  left.set_ylabel("best validation score found\n(each method's own score)")
  left.legend(fontsize=7, loc="lower right")
  for i, label in enumerate(labels):
    acc = [100 * r["test_accuracy"] for r in runs[label] if "refused" not in r]
    right.scatter([i] * len(acc), acc, color=colors[label], s=18)
    right.hlines(np.mean(acc), i - 0.3, i + 0.3, color=colors[label])
  right.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=7)
  right.set_ylabel("test accuracy %")
  refused = [m for m in runs if m not in labels]
  right.set_title("refused: " + ", ".join(refused) if refused else "", fontsize=8)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def memory(rows: Dict[str, dict], path: str, title: str) -> None:
  """Peak memory of a DNAS step against candidates per layer, one panel per batch:
  the whole supernet measured and estimated, and RADARS' highest measured DNAS
  round under each budget (its budget drawn as a dotted line; x: refused)."""
  batches = sorted({int(k.split()[2]) for k in rows})
  fig, axes = plt.subplots(1, len(batches), figsize=(5.5 * len(batches), 4.2),
                           squeeze=False)
  mb = 2 ** 20
  for ax, batch in zip(axes[0], batches):
    dnas = sorted((int(k.split()[1]), r) for k, r in rows.items()
                  if k.startswith("dnas") and int(k.split()[2]) == batch)
    ax.plot([k for k, _ in dnas], [r["peak"] / mb for _, r in dnas], "o-",
            color="black", label="DNAS, whole supernet: measured")
    ax.plot([k for k, _ in dnas], [r["est_total"] / mb for _, r in dnas], "--",
            color="gray", label="DNAS: estimate")
    budgets = sorted({float(k.split()[3]) for k in rows if k.startswith("radars")})
    for budget, color in zip(budgets, plt.cm.tab10(np.arange(len(budgets)))):
      pts = sorted((int(k.split()[1]), max(rd["peak_mb"] for rd in r["rounds"]))
                   for k, r in rows.items() if k.startswith("radars")
                   and int(k.split()[2]) == batch and float(k.split()[3]) == budget
                   and r.get("rounds"))
      ax.plot([k for k, _ in pts], [p for _, p in pts], "s-", color=color,
              label=f"RADARS, budget {budget:g} MB: measured")
      refused = [int(k.split()[1]) for k, r in rows.items()
                 if k.startswith("radars") and int(k.split()[2]) == batch
                 and float(k.split()[3]) == budget and "refused" in r]
      if refused:
        ax.plot(refused, [budget] * len(refused), "x", color=color, markersize=9,
                label=f"RADARS, budget {budget:g} MB: refused")
      ax.axhline(budget, color=color, linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("candidates per layer")
    ax.set_ylabel("peak MB of a DNAS step (per replica)")
    ax.set_title(f"batch {batch}", fontsize=9)
    ax.legend(fontsize=7)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def drawn(draw: Callable[[str], None], out: str, name: str) -> str:
  """Draws figure `name` by `draw(path)` into `out` and into TensorBoard under
  `out`/figures; returns the line saying where, or why not."""
  if MISSING:
    return (f"figure skipped: {MISSING} is not installed (bash tools/setup.sh "
            "--bench); the text above is complete")
  path = os.path.join(out, f"{name}.png")
  draw(path)
  to_tensorboard(path, os.path.join(out, "figures"), name)
  return f"figure: {path} (also in TensorBoard under {out}/figures)"


def to_tensorboard(png: str, logdir: str, name: str) -> None:
  """Writes the PNG `png` as image `name` into the TensorBoard logdir `logdir`."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  image = tf.io.decode_png(tf.io.read_file(png), channels=4)
  with tf.summary.create_file_writer(logdir).as_default():
    tf.summary.image(name, image[None], step=0)


def main(argv):
  from absl import flags  # pylint: disable=import-outside-toplevel
  flags.DEFINE_string("model_dir", None, "A finished run's model dir.")
  flags.DEFINE_string("out", None, "PNG to write (default <model_dir>/architecture.png).")
  flags.FLAGS(argv)
  from radars_tf import data, genotype, search_space  # pylint: disable=import-outside-toplevel
  model_dir = flags.FLAGS.model_dir
  with open(os.path.join(model_dir, "results.json")) as f:
    results = json.load(f)
  space = search_space.load(results["flags"]["space"])
  geno = genotype.Genotype.from_json(json.dumps(results["genotype"])).check(space)
  spec = data.dataset_spec(results["dataset"])
  out = flags.FLAGS.out or os.path.join(model_dir, "architecture.png")
  architecture(space, geno.ops, (spec.image_size, spec.image_size, spec.channels),
               spec.num_classes, out,
               f"{results['method']} on {results['dataset']}: "
               f"{100 * results['test_accuracy']:.2f}% test, "
               f"{results['flops'] / 1e6:.1f} MFLOPs, {results['params']:,} params")
  print(f"written to {out}")


if __name__ == "__main__":
  main(sys.argv)
