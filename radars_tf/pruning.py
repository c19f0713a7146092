"""Pruning decisions (pure): which alive candidates to drop, and why.

Candidates are ranked by how much the controller prefers them over uniform: the
policy's probability times the number of alive candidates of the layer (1.0 means
indifferent), with the mean reward they collected (and, between DNAS rounds, the
alpha softmax) as further evidence. At most a fixed fraction of a layer's
candidates goes per round, and never the last one.
"""
import dataclasses
import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from radars_tf import memory_model
from radars_tf.search_space import SearchSpace, Subspace


@dataclasses.dataclass(frozen=True)
class PruneDecision:
  round: int
  phase: str              # "rl" (to fit the budget) or "dnas" (between DNAS rounds)
  layer: int
  index: int
  op: str
  policy_prob: float
  mean_reward: Optional[float]
  alpha_prob: Optional[float]
  estimate_before_mb: float
  estimate_after_mb: float
  budget_mb: float
  log10_size_after: float


def per_layer_quota(subspace: Subspace, fraction: float) -> List[int]:
  """How many candidates each layer may lose this round (>= 1 while > 1 alive)."""
  return [min(len(a) - 1, max(1, int(math.floor(fraction * len(a)))))
          for a in subspace.alive]


def preference(subspace: Subspace, probs: np.ndarray) -> np.ndarray:
  """probs scaled so that uniform over a layer's alive candidates is 1.0."""
  pref = np.zeros_like(probs, dtype=np.float64)
  for layer, alive in enumerate(subspace.alive):
    pref[layer, list(alive)] = probs[layer, list(alive)] * len(alive)
  return pref


def ranked(subspace: Subspace, scores: np.ndarray,
           tie_break: Optional[np.ndarray] = None) -> List[Tuple[int, int]]:
  """(layer, index) of every alive candidate of layers with more than one, worst
  first; among layers, the candidate least preferred relative to its layer."""
  items = [(layer, i) for layer, alive in enumerate(subspace.alive) if len(alive) > 1
           for i in alive]
  tb = tie_break if tie_break is not None else np.zeros_like(scores)
  return sorted(items, key=lambda li: (scores[li], tb[li], -li[0], -li[1]))


def prune_to_fit(space: SearchSpace, subspace: Subspace, probs: np.ndarray,
                 mean_rewards: np.ndarray, estimate_mb: Callable[[Subspace], float],
                 budget_mb: float, fraction: float, round_index: int,
                 op_memory: Optional[np.ndarray] = None
                 ) -> Tuple[Subspace, List[PruneDecision]]:
  """Drops the worst candidates one by one until the estimate fits the budget or
  every layer has used its quota for this round (then another RL phase runs).

  `mean_rewards` holds NaN where a candidate collected no reward. With `op_memory`
  ([layers, candidates], any unit) a candidate is kept when dropping it would leave
  no one-op-per-layer choice within the budget, so pruning cannot dead-end.
  """
  quota = per_layer_quota(subspace, fraction)
  decisions = []
  before = estimate_mb(subspace)
  if before <= budget_mb:
    return subspace, decisions
  scores = preference(subspace, probs)
  tie = np.nan_to_num(mean_rewards, nan=-np.inf)
  for layer, index in ranked(subspace, scores, tie):
    if quota[layer] == 0 or len(subspace.alive[layer]) == 1:
      continue
    if op_memory is not None and estimate_mb(memory_model.cheapest_completion(
        subspace.without(layer, index), op_memory)) > budget_mb:
      continue
    subspace = subspace.without(layer, index)
    quota[layer] -= 1
    after = estimate_mb(subspace)
    decisions.append(PruneDecision(
        round_index, "rl", layer, index, space.candidates()[layer][index],
        float(probs[layer, index]), _finite(mean_rewards[layer, index]), None,
        before, after, budget_mb, subspace.log10_size()))
    before = after
    if after <= budget_mb:
      break
  return subspace, decisions


def prune_between_rounds(space: SearchSpace, subspace: Subspace,
                         alpha_probs: np.ndarray, policy_probs: np.ndarray,
                         estimate_mb: Callable[[Subspace], float], budget_mb: float,
                         fraction: float, round_index: int
                         ) -> Tuple[Subspace, List[PruneDecision]]:
  """After a DNAS round: per layer, drop the `fraction` least preferred candidates
  by the mean of the alpha and policy preferences (the agent reads the alphas)."""
  scores = 0.5 * (preference(subspace, alpha_probs) + preference(subspace,
                                                                 policy_probs))
  quota = per_layer_quota(subspace, fraction)
  decisions = []
  before = estimate_mb(subspace)
  for layer, alive in enumerate(subspace.alive):
    worst = sorted(alive, key=lambda i: (scores[layer, i], i))[:quota[layer]]
    for index in worst:
      if len(subspace.alive[layer]) == 1:
        break
      subspace = subspace.without(layer, index)
      after = estimate_mb(subspace)
      decisions.append(PruneDecision(
          round_index, "dnas", layer, index, space.candidates()[layer][index],
          float(policy_probs[layer, index]), None,
          float(alpha_probs[layer, index]), before, after, budget_mb,
          subspace.log10_size()))
      before = after
  return subspace, decisions


def _finite(x) -> Optional[float]:
  return float(x) if np.isfinite(x) else None


def reward_table(shape: Tuple[int, int],
                 samples: Sequence[Tuple[Sequence[int], float]]) -> np.ndarray:
  """Mean reward each (layer, candidate) collected; NaN where it was never sampled."""
  total = np.zeros(shape)
  count = np.zeros(shape)
  for choices, reward in samples:
    for layer, i in enumerate(choices):
      total[layer, i] += reward
      count[layer, i] += 1
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
