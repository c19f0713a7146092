"""Per-candidate evidence from scored architectures, kept across RL phases and saved
with the search state: how many rewards each candidate collected, their mean and
spread. Each reward is centred on the mean of its phase, since the shared weights
(and so every reward) improve from one phase to the next."""
import dataclasses
from typing import List, Sequence, Tuple

import numpy as np

from radars_tf.search_space import Subspace


@dataclasses.dataclass
class Evidence:
  """[layers, candidates] count, sum and sum of squares of centred rewards."""
  count: np.ndarray
  total: np.ndarray
  total_sq: np.ndarray

  @classmethod
  def empty(cls, shape: Tuple[int, int]) -> "Evidence":
    return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape))

  def add(self, samples: Sequence[Tuple[Sequence[int], float]]) -> None:
    """Adds one phase's (choices, reward) samples, centred on their mean; a
    negative choice (a layer the episode left at its reference) is skipped."""
    if not samples:
      return
    centre = float(np.mean([r for _, r in samples]))
    for choices, reward in samples:
      r = reward - centre
      for layer, i in enumerate(choices):
        if i < 0:
          continue
        self.count[layer, i] += 1
        self.total[layer, i] += r
        self.total_sq[layer, i] += r * r

  def mean(self) -> np.ndarray:
    """Mean centred reward; NaN where a candidate has none."""
    with np.errstate(invalid="ignore", divide="ignore"):
      return np.where(self.count > 0, self.total / np.maximum(self.count, 1), np.nan)

  def stderr(self) -> np.ndarray:
    """Standard error of the mean; inf below two samples."""
    n = np.maximum(self.count, 1)
    mean = self.total / n
    var = np.maximum(self.total_sq / n - mean * mean, 0.0) * n / np.maximum(n - 1, 1)
    return np.where(self.count >= 2, np.sqrt(var / n), np.inf)

  def separation(self, subspace: Subspace, min_samples: int
                 ) -> List[Tuple[int, int, float]]:
    """(layer, candidate, z) for every alive candidate with at least `min_samples`
    rewards in a layer with more than one: z is how many standard errors (of the
    difference) its mean lies below its layer's best-measured candidate (the best
    itself is not listed)."""
    mean, se = self.mean(), self.stderr()
    out = []
    for layer, alive in enumerate(subspace.alive):
      seen = [i for i in alive if self.count[layer, i] >= min_samples]
      if len(alive) < 2 or len(seen) < 2:
        continue
      best = max(seen, key=lambda i: (mean[layer, i], -i))
      for i in seen:
        if i == best:
          continue
        gap = mean[layer, best] - mean[layer, i]
        spread = np.hypot(se[layer, best], se[layer, i])
        out.append((layer, i, float(gap / spread) if spread > 0 else
                    (np.inf if gap > 0 else 0.0)))
    return out

  def to_json(self) -> dict:
    return {k: getattr(self, k).tolist() for k in ("count", "total", "total_sq")}

  @classmethod
  def from_json(cls, d: dict) -> "Evidence":
    return cls(*(np.asarray(d[k], np.float64) for k in ("count", "total", "total_sq")))
