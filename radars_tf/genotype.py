"""The genotype: the chosen op of every searchable layer, a small immutable value.

Serializes to JSON (with a version field, loaded as data, never evaluated) and builds
a standalone Keras model for retraining from scratch.
"""
import dataclasses
import json
from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import network
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
