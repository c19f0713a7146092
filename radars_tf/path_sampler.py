"""Which path a shared-weight step trains, and which path an agent's episode is
scored on.

`uniform`: every layer drawn from its alive candidates (SPOS). `fair`: every
layer changes at every step too, but each layer deals its alive candidates from
a shuffled deck, so that over a deck every candidate gets the same number of
updates (FairNAS' fairness without its gradient accumulation): uniform draws give
a candidate Binomial(steps, 1/n) updates, and an architecture's score then says
how much its ops happened to be trained. `local`: a
reference path with `vary` layers changed; the changed (layer, candidate) pairs
are dealt in turns from a shuffled deck, so that every alive candidate gets the
same number of updates (FairNAS' fairness, around a reference), and an episode
is scored with the agent's choices in `vary` random layers and the reference
elsewhere: its reward then measures those choices in a network the shared
weights have learned.
"""
from typing import List, Sequence, Tuple

import numpy as np

from radars_tf.search_space import SearchSpace, Subspace

MODES = ("uniform", "fair", "local")
UNUSED = -1      # a layer an episode left at the reference (not evidence for it)


class PathSampler:

  def __init__(self, mode: str, vary: int, seed: int):
    self.mode, self.vary = mode, vary
    self.rng = np.random.default_rng(seed)
    self.reference: Tuple[int, ...] = ()
    self._deck: List[Tuple[int, int]] = []
    self._layer_decks: List[List[int]] = []

  def reseed(self, seed: int) -> None:
    """A fresh generator and deck: a unit samples the same paths when redone."""
    self.rng = np.random.default_rng(seed)
    self._deck, self._layer_decks = [], []

  def train_path(self, subspace: Subspace) -> Tuple[int, ...]:
    if self.mode == "fair":
      return self._fair_path(subspace)
    if self.mode == "uniform" or not self.reference:
      return tuple(int(self.rng.choice(a)) for a in subspace.alive)
    path = list(self.reference)
    changed = set()
    for _ in range(min(self.vary, len(path))):
      layer, cand = self._deal(subspace, changed)
      if layer is None:
        break
      path[layer] = cand
      changed.add(layer)
    return tuple(path)

  def _fair_path(self, subspace: Subspace) -> Tuple[int, ...]:
    """Each layer's next candidate from its deck of alive candidates (pruned ones
    dropped), reshuffled when empty."""
    if len(self._layer_decks) != len(subspace.alive):
      self._layer_decks = [[] for _ in subspace.alive]
    path = []
    for deck, alive in zip(self._layer_decks, subspace.alive):
      deck[:] = [c for c in deck if c in alive]
      if not deck:
        deck.extend(int(c) for c in self.rng.permutation(list(alive)))
      path.append(deck.pop())
    return tuple(path)

  def _deal(self, subspace: Subspace, taken):
    """The next (layer, candidate) of the deck in a layer not in `taken`."""
    for _ in range(2):
      for j, (layer, cand) in enumerate(self._deck):
        if layer not in taken and cand in subspace.alive[layer]:
          return self._deck.pop(j)
      self._deck = [(l, c) for l, a in enumerate(subspace.alive) for c in a
                    if c != self.reference[l]]
      self.rng.shuffle(self._deck)
    return None, None

  def varied_share(self, layers: int) -> float:
    """The share of an episode's layers whose choice is evidence."""
    if self.mode != "local" or not self.reference:
      return 1.0
    return min(self.vary, layers) / layers

  def episode_path(self, choices: Sequence[int]
                   ) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(the path scored for the agent's `choices`, the choices it used: UNUSED
    where the reference stood in)."""
    choices = tuple(int(c) for c in choices)
    if self.mode != "local" or not self.reference:
      return choices, choices
    layers = set(self.rng.choice(len(choices), min(self.vary, len(choices)),
                                 replace=False).tolist())
    path = tuple(c if l in layers else r
                 for l, (c, r) in enumerate(zip(choices, self.reference)))
    return path, tuple(c if l in layers else UNUSED for l, c in enumerate(choices))


def initial_reference(space: SearchSpace, subspace: Subspace, seed: int
                      ) -> Tuple[int, ...]:
  """A random alive path that avoids `zero` where the layer has anything else."""
  rng = np.random.default_rng(seed)
  cands = space.candidates()
  return tuple(int(rng.choice([i for i in a if cands[l][i] != "zero"] or list(a)))
               for l, a in enumerate(subspace.alive))


def best_reference(subspace: Subspace, mean: np.ndarray, count: np.ndarray,
                   min_samples: int, previous: Sequence[int]) -> Tuple[int, ...]:
  """Per layer the alive candidate with the best mean reward on at least
  `min_samples` rewards, else the previous reference if alive, else the first
  alive."""
  out = []
  for l, alive in enumerate(subspace.alive):
    seen = [i for i in alive if count[l, i] >= min_samples]
    prev = previous[l] if previous and previous[l] in alive else None
    if seen:
      out.append(max(seen, key=lambda i: (mean[l, i], -i)))
    else:
      out.append(prev if prev is not None else alive[0])
  return tuple(out)
