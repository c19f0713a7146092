"""Per-candidate evidence from scored architectures, kept across RL phases and saved
with the search state. Each reward is centred on the mean of its phase, since the
shared weights (and so every reward) improve from one phase to the next.

A candidate's effect is estimated jointly with every other layer's: a ridge
regression of the centred rewards on the one-hot choices (reward = sum over layers
of the chosen candidate's effect). A plain per-candidate mean counts what the other
layers happened to choose as noise; the regression explains it, so the same
rewards separate candidates with smaller standard errors. The regression's
covariance gives the standard error of each within-layer difference.
"""
import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np

from radars_tf.search_space import Subspace

# Only there to resolve what rewards cannot tell (an offset moved from one layer's
# effects to another's, a candidate never chosen); within-layer differences are
# unaffected.
RIDGE = 1e-4


def count_choices(choices: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
  """[layers, candidates] how often each candidate was chosen (negatives skipped)."""
  count = np.zeros(shape)
  for layer in range(shape[0]):
    used = choices[:, layer] >= 0
    np.add.at(count[layer], choices[used, layer], 1)
  return count


def design(choices: np.ndarray, candidates: int) -> np.ndarray:
  """The regression's one-hot design matrix [samples, layers * candidates]."""
  x = np.zeros((choices.shape[0], choices.shape[1] * candidates))
  rows, cols = np.nonzero(choices >= 0)
  x[rows, cols * candidates + choices[rows, cols]] = 1.0
  return x


@dataclasses.dataclass
class Evidence:
  """[layers, candidates] reward counts, and every (choices, centred reward)."""
  count: np.ndarray
  choices: np.ndarray     # [samples, layers] int, -1 where a layer is not evidence
  rewards: np.ndarray     # [samples] centred rewards
  ridge: float = RIDGE

  @classmethod
  def empty(cls, shape: Tuple[int, int]) -> "Evidence":
    return cls(np.zeros(shape), np.zeros((0, shape[0]), np.int64), np.zeros(0))

  @classmethod
  def of(cls, choices: np.ndarray, rewards: np.ndarray, shape: Tuple[int, int],
         ridge: float = RIDGE) -> "Evidence":
    """Evidence of already centred rewards (counts derived from the choices)."""
    return cls(count_choices(choices, shape), choices, rewards, ridge)

  def head(self, n: int) -> "Evidence":
    """The evidence of the first `n` rewards, in the order they were collected."""
    return Evidence.of(self.choices[:n], self.rewards[:n], self.count.shape,
                       self.ridge)

  def add(self, samples: Sequence[Tuple[Sequence[int], float]]) -> None:
    """Adds one phase's (choices, reward) samples, centred on their mean; a
    negative choice (a layer the episode left at its reference) is skipped."""
    if not samples:
      return
    centre = float(np.mean([r for _, r in samples]))
    choices = np.array([[int(c) for c in ch] for ch, _ in samples], np.int64)
    self.count = self.count + count_choices(choices, self.count.shape)
    self.choices = np.concatenate([self.choices, choices])
    self.rewards = np.concatenate([self.rewards,
                                   np.array([r for _, r in samples]) - centre])
    self._fit = None

  def fit(self) -> Tuple[np.ndarray, np.ndarray]:
    """(effects [layers, candidates], their covariance [L*C, L*C]) of the ridge
    regression at strength `ridge`; cached until the next `add`."""
    if getattr(self, "_fit", None) is not None:
      return self._fit
    shape = self.count.shape
    n = len(self.rewards)
    if n == 0:
      self._fit = (np.zeros(shape), np.full((shape[0] * shape[1],) * 2, np.inf))
      return self._fit
    x = design(self.choices, shape[1])
    gram = x.T @ x + self.ridge * np.eye(x.shape[1])
    inverse = np.linalg.inv(gram)
    beta = inverse @ (x.T @ self.rewards)
    residual = self.rewards - x @ beta
    dof = max(n - np.trace(x @ inverse @ x.T), 1.0)
    sigma2 = float(residual @ residual) / dof
    self._fit = (beta.reshape(shape), sigma2 * inverse)
    return self._fit

  def mean(self) -> np.ndarray:
    """Each candidate's estimated effect on the centred reward; NaN where a
    candidate has no reward."""
    return np.where(self.count > 0, self.fit()[0], np.nan)

  def best(self, layer: int, alive: Sequence[int], min_samples: int
           ) -> Optional[int]:
    """The layer's best-measured alive candidate (largest effect among those with
    at least `min_samples` rewards); None unless two or more are measured."""
    seen = [i for i in alive if self.count[layer, i] >= min_samples]
    if len(seen) < 2:
      return None
    effect = self.fit()[0]
    return max(seen, key=lambda i: (effect[layer, i], -i))

  def separation(self, subspace: Subspace, min_samples: int
                 ) -> List[Tuple[int, int, float]]:
    """(layer, candidate, z) for every alive candidate with at least `min_samples`
    rewards in a layer with more than one: z is how many standard errors (of the
    difference) its effect lies below its layer's best-measured candidate (the
    best itself is not listed)."""
    effect, cov = self.fit()
    cands = self.count.shape[1]
    out = []
    for layer, alive in enumerate(subspace.alive):
      best = self.best(layer, alive, min_samples)
      if best is None:
        continue
      seen = [i for i in alive if self.count[layer, i] >= min_samples]
      b = layer * cands + best
      for i in seen:
        if i == best:
          continue
        j = layer * cands + i
        gap = effect[layer, best] - effect[layer, i]
        spread = np.sqrt(max(cov[b, b] + cov[j, j] - 2 * cov[b, j], 0.0))
        out.append((layer, i, float(gap / spread) if spread > 0 else
                    (np.inf if gap > 0 else 0.0)))
    return out

  def to_json(self) -> dict:
    return {"count": self.count.tolist(), "choices": self.choices.tolist(),
            "rewards": self.rewards.tolist()}

  @classmethod
  def from_json(cls, d: dict) -> "Evidence":
    count = np.asarray(d["count"], np.float64)
    choices = np.asarray(d["choices"], np.int64).reshape(-1, count.shape[0])
    return cls(count, choices, np.asarray(d["rewards"], np.float64))
