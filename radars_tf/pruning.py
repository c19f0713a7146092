"""Pruning decisions (pure): which alive candidates to drop, and why.

Evidence decides (`evidence.Evidence`): during the RL phases a candidate is pruned
only when it has collected enough rewards and its mean lies confidently below its
layer's best; the clearest go first, whatever their memory. A candidate the
evidence still cannot separate from its layer's best after many rewards is as good
as the best by all we know: those go next, the furthest below the best first
(in steps of half a standard error) and memory-hungry first within a step, so
that fewer prunes reach the budget and DNAS keeps a real subspace.
When a time budget's RL share is spent (`deadline`), pruning must fit the budget
on the evidence it has: after those two tiers, every other candidate but its
layer's best-measured, ranked the same way (unmeasured ones as level with the best).
Between DNAS rounds only candidates whose alpha is far below their layer's top
alpha go. Never the last candidate of a layer; never a layer's best, unless the
layers' bests together exceed the budget (then the least clearly best goes).
"""
import dataclasses
from typing import Callable, List, Optional, Tuple

import numpy as np

from radars_tf import memory_model
from radars_tf.evidence import Evidence
from radars_tf.search_space import SearchSpace, Subspace


@dataclasses.dataclass(frozen=True)
class PruneDecision:
  round: int
  phase: str              # "rl" (to fit the budget) or "dnas" (between DNAS rounds)
  layer: int
  index: int
  op: str
  policy_prob: float
  mean_reward: Optional[float]    # centred mean reward (RL) or None
  alpha_prob: Optional[float]
  estimate_before_mb: float
  estimate_after_mb: float
  budget_mb: float
  log10_size_after: float
  samples: int = 0                # rewards the candidate collected
  z: Optional[float] = None       # standard errors below its layer's best
  best_given_up: bool = False     # it was its layer's best (then -z is its lead)


@dataclasses.dataclass(frozen=True)
class EvidenceRule:
  """When evidence condemns a candidate: at least `min_samples` rewards and a mean
  `confidence` standard errors (of the difference) below its layer's best; or
  `max_samples` rewards without being separable from the best (then it is as good
  as the best by all we know, and memory breaks near-ties)."""
  min_samples: int
  confidence: float
  max_samples: int


def condemned(subspace: Subspace, evidence: Evidence, rule: EvidenceRule
              ) -> Tuple[List[Tuple[int, int, float]], List[Tuple[int, int, float]]]:
  """(layer, candidate, z) the rule allows to prune: the confidently worse, and
  the ones the evidence cannot separate from their layer's best."""
  worse, even = [], []
  for layer, i, z in evidence.separation(subspace, rule.min_samples):
    if z >= rule.confidence:
      worse.append((layer, i, z))
    elif evidence.count[layer, i] >= rule.max_samples:
      even.append((layer, i, z))
  return worse, even


def ranked_rest(subspace: Subspace, evidence: Evidence,
                taken: List[Tuple[int, int, float]]) -> List[Tuple[int, int, float]]:
  """(layer, candidate, z) of every alive candidate not in `taken` and not its
  layer's best-measured (two rewards or more): z as in `Evidence.separation`,
  0 for a candidate measured less (nothing says it is worse)."""
  seen = {(l, i): z for l, i, z in evidence.separation(subspace, 2)}
  compared = {l for l, _ in seen}        # layers with a best-measured candidate
  done = {(l, i) for l, i, _ in taken}
  rest = []
  for layer, alive in enumerate(subspace.alive):
    for i in alive:
      if (layer, i) in done or len(alive) < 2:
        continue
      if (layer, i) in seen:
        rest.append((layer, i, seen[layer, i]))
      elif layer not in compared or evidence.count[layer, i] < 2:
        rest.append((layer, i, 0.0))
  return rest


def prune_to_fit(space: SearchSpace, subspace: Subspace, evidence: Evidence,
                 rule: EvidenceRule, policy_probs: np.ndarray,
                 estimate_mb: Callable[[Subspace], float], budget_mb: float,
                 round_index: int, op_memory: np.ndarray, deadline: bool = False
                 ) -> Tuple[Subspace, List[PruneDecision]]:
  """Drops condemned candidates one by one until the estimate fits the budget
  (with `deadline`, then any but a layer's best-measured: see the module's text).

  The confidently worse go first, then the inseparable. Each next prune comes
  from a layer with the most candidates left (so that no layer is cut down to
  its best alone while others keep many); within those, by evidence in steps of
  half a standard error (furthest below the best first), then memory (hungriest
  first). A candidate is kept when dropping it would leave no one-op-per-layer
  choice within the budget, so pruning cannot dead-end; and when the layers'
  best-measured candidates together do not fit, the least clearly best of them
  goes (`blocking_best`), since no other prune could make room. Returns the new
  subspace and the decisions (none when nothing is condemned yet: more evidence
  is needed).
  """
  decisions = []
  mean = evidence.mean()
  # the candidates no tier offers: condemned() keeps each layer's best by
  # min_samples, and the deadline's ranked_rest() its best by two rewards
  protected = 2 if deadline else rule.min_samples

  def drop(layer, index, z, before, best=False):
    nonlocal subspace
    subspace = subspace.without(layer, index)
    after = estimate_mb(subspace)
    decisions.append(PruneDecision(
        round_index, "rl", layer, index, space.candidates()[layer][index],
        float(policy_probs[layer, index]), float(mean[layer, index]), None,
        before, after, budget_mb, subspace.log10_size(),
        int(evidence.count[layer, index]), float(z), best))
    return after

  def strength(c):         # evidence in steps of half a standard error, then memory
    return (round(2 * c[2]) / 2, op_memory[c[0], c[1]])

  before = estimate_mb(subspace)
  while before > budget_mb:
    worse, even = condemned(subspace, evidence, rule)
    tiers = [worse, even]
    if deadline:
      tiers.append(ranked_rest(subspace, evidence, worse + even))
    for items in tiers:
      items = list(items)
      while items and before > budget_mb:
        pick = max(items, key=lambda c: (len(subspace.alive[c[0]]), strength(c),
                                         -c[0], -c[1]))
        items.remove(pick)
        layer, index, z = pick
        if len(subspace.alive[layer]) == 1:
          continue
        if estimate_mb(memory_model.cheapest_completion(
            subspace.without(layer, index), op_memory)) > budget_mb:
          continue
        before = drop(layer, index, z, before)
    if before <= budget_mb:
      break
    blocking = blocking_best(subspace, evidence, protected, op_memory, estimate_mb,
                             budget_mb)
    if blocking is None:
      break
    before = drop(*blocking, before, best=True)
  return subspace, decisions


def blocking_best(subspace: Subspace, evidence: Evidence, min_samples: int,
                  op_memory: np.ndarray, estimate_mb: Callable[[Subspace], float],
                  budget_mb: float) -> Optional[Tuple[int, int, float]]:
  """(layer, candidate, -lead) of the layer's best-measured candidate to give up
  when the bests (with the cheapest op in layers without one) exceed the budget:
  the one least clearly ahead of its layer's next (in steps of half a standard
  error), the largest memory saving first within a step. None when they fit."""
  lead = {}
  for layer, _, z in evidence.separation(subspace, min_samples):
    lead[layer] = min(lead.get(layer, np.inf), z)
  best = {l: evidence.best(l, subspace.alive[l], min_samples) for l in lead}
  kept = Subspace(tuple((best[l],) if l in best else a
                        for l, a in enumerate(subspace.alive)))
  if estimate_mb(memory_model.cheapest_completion(kept, op_memory)) <= budget_mb:
    return None
  cheapest = memory_model.cheapest_completion(subspace, op_memory).alive
  saving = {l: op_memory[l, best[l]] - op_memory[l, cheapest[l][0]] for l in best}
  options = [l for l in best if saving[l] > 0]
  if not options:
    return None
  layer = min(options, key=lambda l: (round(2 * lead[l]) / 2, -saving[l], l))
  return layer, best[layer], -lead[layer]


def prune_between_rounds(space: SearchSpace, subspace: Subspace,
                         alpha_probs: np.ndarray, policy_probs: np.ndarray,
                         estimate_mb: Callable[[Subspace], float], budget_mb: float,
                         ratio: float, round_index: int, at_least_one: bool = False
                         ) -> Tuple[Subspace, List[PruneDecision]]:
  """After a DNAS round: per layer, drop the candidates whose alpha probability is
  below `ratio` times the layer's top one (undecided alphas prune nothing). With
  `at_least_one` (out of memory), each layer with more than one candidate loses
  at least its lowest."""
  decisions = []
  before = estimate_mb(subspace)
  for layer, alive in enumerate(subspace.alive):
    if len(alive) < 2:
      continue
    probs = alpha_probs[layer]
    top = max(probs[i] for i in alive)
    ranked = sorted(alive, key=lambda i: (probs[i], i))
    drop = [i for i in ranked if probs[i] < ratio * top]
    if at_least_one and not drop:
      drop = ranked[:1]
    for index in drop[:len(alive) - 1]:
      subspace = subspace.without(layer, index)
      after = estimate_mb(subspace)
      decisions.append(PruneDecision(
          round_index, "dnas", layer, index, space.candidates()[layer][index],
          float(policy_probs[layer, index]), None, float(probs[index]), before,
          after, budget_mb, subspace.log10_size()))
      before = after
  return subspace, decisions
