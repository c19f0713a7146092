"""Figures the benchmarks draw (matplotlib, a benchmark-only package): the found
architecture layer by layer, and search proxies against stand-alone accuracy.

  .venv/bin/python tools/figures.py --model_dir=runs/fashion_mnist \
      --out=docs/figures/architecture.png
"""
import json
import os
import sys
from typing import Dict, Sequence

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

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
