"""The genotype: the chosen op of every searchable layer, a small immutable value.

Serializes to JSON (with a version field, loaded as data, never evaluated) and builds
a standalone Keras model for retraining from scratch.
"""
import dataclasses
import json
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import known_genotypes, network
from radars_tf.errors import UserError
from radars_tf.search_space import SearchSpace, Subspace

VERSION = 1


@dataclasses.dataclass(frozen=True)
class Genotype:
  space: str
  ops: Tuple[str, ...]
  version: int = VERSION

  def to_json(self) -> str:
    return json.dumps({"version": self.version, "space": self.space,
                       "ops": list(self.ops)}, indent=2)

  @classmethod
  def from_json(cls, text: str) -> "Genotype":
    try:
      d = json.loads(text)
      if d["version"] != VERSION:
        raise UserError(f"genotype version {d['version']} is not {VERSION}")
      return cls(str(d["space"]), tuple(str(o) for o in d["ops"]), VERSION)
    except (ValueError, KeyError, TypeError) as e:
      raise UserError(f"malformed genotype JSON: {e}") from e

  def check(self, space: SearchSpace) -> "Genotype":
    """Raises UserError unless every op is a candidate of its layer of `space`."""
    cands = space.candidates()
    if self.space != space.name or len(self.ops) != len(cands):
      raise UserError(f"the genotype is of space {self.space} with {len(self.ops)} "
                      f"layers, not of {space.name} ({len(cands)} layers)")
    for layer, (op, c) in enumerate(zip(self.ops, cands)):
      if op not in c:
        raise UserError(f"the genotype's layer {layer} op {op} is not a candidate "
                        f"of space {space.name}")
    return self

  def choices(self, space: SearchSpace) -> Tuple[int, ...]:
    return tuple(c.index(op) for op, c in zip(self.ops, space.candidates()))

  def build(self, space: SearchSpace, input_shape, num_classes: int) -> tf.keras.Model:
    return network.standalone_model(space, self.ops, input_shape, num_classes,
                                     name="genotype")


def from_choices(space: SearchSpace, choices: Sequence[int]) -> Genotype:
  cands = space.candidates()
  return Genotype(space.name, tuple(c[int(i)] for c, i in zip(cands, choices)))


def derive(space: SearchSpace, subspace: Subspace, probs: np.ndarray,
           tie_break: Optional[np.ndarray] = None) -> Genotype:
  """Argmax of `probs` over each layer's alive candidates.

  As in DARTS, `zero` is chosen only when it is all that is left. `tie_break`
  (same shape) decides between equal probabilities.
  """
  cands = space.candidates()
  choices = []
  for layer, alive in enumerate(subspace.alive):
    usable = [i for i in alive if cands[layer][i] != "zero"] or list(alive)
    key = lambda i: (probs[layer, i],
                     0.0 if tie_break is None else tie_break[layer, i])
    choices.append(max(usable, key=key))
  return from_choices(space, choices)


def load(name_or_path: str, space: SearchSpace) -> Genotype:
  """A known genotype by name (known_genotypes.KNOWN) or a genotype JSON file (as a
  run writes it), checked against `space`."""
  if name_or_path in known_genotypes.KNOWN:
    name, ops = known_genotypes.KNOWN[name_or_path]
    return Genotype(name, ops).check(space)
  with open(known_genotypes.check_name(name_or_path)) as f:
    return Genotype.from_json(f.read()).check(space)
