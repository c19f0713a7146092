"""TensorBoard output of a run, namespaced (`supernet/…`, `agent/…`, `memory/…`),
and progress lines a person can follow without per-step spam."""
import sys
import time
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

# Viridis-like ramp: dark blue (0) -> teal -> yellow (1).
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98],
                  [253, 231, 37]], np.float32) / 255.0


def heatmap(matrix: np.ndarray, cell: int = 12) -> np.ndarray:
  """[1, rows*cell, cols*cell, 3] RGB image of a [rows, cols] matrix in [0, 1]."""
  m = np.clip(np.nan_to_num(np.asarray(matrix, np.float32)), 0.0, 1.0)
  pos = m * (len(_RAMP) - 1)
  lo = np.floor(pos).astype(int)
  hi = np.minimum(lo + 1, len(_RAMP) - 1)
  frac = (pos - lo)[..., None]
  rgb = _RAMP[lo] * (1 - frac) + _RAMP[hi] * frac
  rgb = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
  return rgb[None]


class Summaries:
  """Writes scalars, images, text and hparams; a no-op writer where `logdir` is None
  (non-chief workers)."""

  def __init__(self, logdir: Optional[str]):
    self.writer = (tf.summary.create_file_writer(logdir) if logdir
                   else tf.summary.create_noop_writer())

  def scalars(self, step: int, values: Dict[str, float]) -> None:
    with self.writer.as_default(step=step):
      for name, value in values.items():
        if value is not None and np.isfinite(value):
          tf.summary.scalar(name, float(value))

  def image(self, step: int, name: str, matrix: np.ndarray, description: str = ""):
    with self.writer.as_default(step=step):
      tf.summary.image(name, heatmap(matrix), description=description)

  def text(self, step: int, name: str, markdown: str) -> None:
    with self.writer.as_default(step=step):
      tf.summary.text(name, markdown)

  def hparams(self, values: Dict[str, object], metrics: Sequence[str] = ()) -> None:
    clean = {k: (v if isinstance(v, (bool, int, float, str)) else str(v))
             for k, v in values.items()}
    with self.writer.as_default():
      hparams_api.hparams_config(
          hparams=[hparams_api.HParam(k) for k in clean],
          metrics=[hparams_api.Metric(m) for m in metrics])
      hparams_api.hparams(clean)

  def flush(self) -> None:
    self.writer.flush()


class Progress:
  """One Keras Progbar per phase: live with ETA on a terminal, one line per phase
  in a log (verbose=2), nothing when quiet."""

  def __init__(self, quiet: bool = False):
    self.quiet = quiet
    self.verbose = 1 if sys.stdout.isatty() else 2
    self.bar = None
    self.start = time.time()

  def phase(self, title: str, target: int) -> None:
    if self.quiet:
      return
    print(f"[{time.time() - self.start:7.1f}s] {title}", flush=True)
    self.bar = tf.keras.utils.Progbar(target, verbose=self.verbose,
                                      unit_name="step")

  def update(self, current: int, values: Dict[str, float]) -> None:
    if self.bar is not None and not self.quiet:
      self.bar.update(current, [(k, v) for k, v in values.items()], finalize=None)

  def note(self, line: str) -> None:
    if not self.quiet:
      print(f"[{time.time() - self.start:7.1f}s] {line}", flush=True)
