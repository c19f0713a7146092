"""Slices: a subspace split into sub-supernets that each fit the memory budget, so
that DNAS can weigh every candidate before any is pruned (few-shot NAS splits a
supernet the same way, Zhao et al. 2021).

Each layer's candidates are dealt among the slices, heaviest first, so that every
slice holds a share of the memory-hungry ops; a layer with fewer candidates than
slices repeats them. DNAS over a slice makes its candidates compete only with
their slice's; `centred` puts the slices' logits on one scale.
"""
from typing import List, Sequence, Tuple

import numpy as np

from radars_tf import memory_model
from radars_tf.errors import MemoryBudgetError
from radars_tf.search_space import SearchSpace, Subspace


def deal(subspace: Subspace, memory: np.ndarray, k: int, seed: int) -> List[Subspace]:
  """`subspace` dealt into `k` slices: each layer's candidates sorted by
  `memory` ([layers, candidates]), heaviest first, each band of `k` spread over
  the slices in a seeded random order; a layer with fewer than `k` candidates
  gives slice j its (j mod n)-th heaviest."""
  rng = np.random.default_rng(seed)
  slices = [[[] for _ in subspace.alive] for _ in range(k)]
  for l, alive in enumerate(subspace.alive):
    order = sorted(alive, key=lambda i, l=l: (-memory[l, i], i))
    if len(order) < k:
      for j in range(k):
        slices[j][l].append(order[j % len(order)])
      continue
    for band in range(0, len(order), k):
      for c, j in zip(order[band:band + k], rng.permutation(k)):
        slices[j][l].append(c)
  return [Subspace(tuple(tuple(sorted(a)) for a in s)) for s in slices]


def fitting(space: SearchSpace, subspace: Subspace,
            input_shape: Tuple[int, int, int], num_classes: int, batch: int,
            budget_mb: float, seed: int) -> List[Subspace]:
  """The fewest slices (`deal`) whose DNAS estimates at per-replica `batch` all
  fit `budget_mb`."""
  memory = memory_model.op_memory(space, input_shape)
  for k in range(1, subspace.widest() + 1):
    slices = deal(subspace, memory, k, seed)
    if all(memory_model.estimate(space, s, input_shape, num_classes, batch).total_mb
           <= budget_mb for s in slices):
      return slices
  raise MemoryBudgetError(
      f"no split of the subspace into slices fits {budget_mb:.0f} MB at "
      f"per-replica batch {batch}: one candidate per layer does not")


def centred(logits: np.ndarray, part: Subspace) -> np.ndarray:
  """[layers, candidates]: each of `part`'s candidates' logit minus the mean of
  its layer's logits in `part` (a layer of one candidate gives 0); NaN outside
  `part`. The softmax of a slice ignores a constant per layer, so only these
  differences carry what DNAS learned."""
  out = np.full(logits.shape, np.nan)
  for l, alive in enumerate(part.alive):
    idx = list(alive)
    out[l, idx] = logits[l, idx] - logits[l, idx].mean()
  return out


def merged(tables: Sequence[np.ndarray]) -> np.ndarray:
  """The mean over slices of `centred` tables (a candidate dealt to several
  slices averages them); NaN where no slice held the candidate."""
  stack = np.stack(tables)
  seen = ~np.isnan(stack)
  total = np.where(seen, stack, 0.0).sum(axis=0)
  count = seen.sum(axis=0)
  return np.where(count > 0, total / np.maximum(count, 1), np.nan)
