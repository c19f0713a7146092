"""Search spaces and subspaces as data (FBNet/ProxylessNAS-style macro, layer-wise).

A space is a stem, stages (output channels, stride of the first layer, number of
searchable layers) and, per layer, an ordered list of candidate op specs. A
subspace says which candidates of each layer are still alive; pruning only removes.
Both round-trip through JSON.
"""
import dataclasses
import json
import math
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from radars_tf import ops
from radars_tf.errors import UserError

MBCONV = tuple(f"mbconv_e{e}_k{k}" for e in (1, 3, 4, 6) for k in (3, 5, 7))
LARGE_OPS = MBCONV + (
    "sepconv_k3", "sepconv_k5", "sepconv_k7", "dilconv_k3", "dilconv_k5",
    "dilconv_k7", "conv_k1", "conv_k3", "conv_k5", "maxpool_k3", "maxpool_k5",
    "avgpool_k3", "avgpool_k5", "skip")
# Past 32 candidates per layer: more MBConv expansions and a 7x7 conv.
XLARGE_OPS = tuple(f"mbconv_e{e}_k{k}" for e in (1, 2, 3, 4, 5, 6, 8)
                   for k in (3, 5, 7)) + LARGE_OPS[len(MBCONV):] + ("conv_k7",)
DARTS_OPS = ("zero", "maxpool_k3", "avgpool_k3", "skip", "sepconv_k3", "sepconv_k5",
             "dilconv_k3", "dilconv_k5")


@dataclasses.dataclass(frozen=True)
class Stage:
  channels: int
  stride: int
  layers: int
  ops: Optional[Tuple[str, ...]] = None   # this stage's candidates; None: the space's


@dataclasses.dataclass(frozen=True)
class LayerSpec:
  """One searchable layer as the supernet and the memory model see it."""
  index: int
  cin: int
  cout: int
  stride: int
  hw: int          # input height (= width) of the layer
  candidates: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  name: str
  stem_channels: int
  stages: Tuple[Stage, ...]
  ops: Tuple[str, ...]
  # Each layer outputs its shortcut plus its op (ops.SHORTCUT, OpLayer `branch`);
  # else the op alone.
  residual: bool = False

  def __post_init__(self):
    _check(self)

  def layers(self, input_hw: int) -> List[LayerSpec]:
    out, cin, hw = [], self.stem_channels, input_hw
    for stage in self.stages:
      for i in range(stage.layers):
        stride = stage.stride if i == 0 else 1
        out.append(LayerSpec(len(out), cin, stage.channels, stride, hw,
                             tuple(stage.ops or self.ops)))
        cin, hw = stage.channels, math.ceil(hw / stride)
    return out

  @property
  def num_layers(self) -> int:
    return sum(s.layers for s in self.stages)

  def candidates(self) -> List[Tuple[str, ...]]:
    return [tuple(s.ops or self.ops) for s in self.stages for _ in range(s.layers)]

  def to_dict(self) -> dict:
    return {"name": self.name, "stem_channels": self.stem_channels,
            "ops": list(self.ops), "residual": self.residual,
            "stages": [{k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in dataclasses.asdict(s).items() if v is not None}
                       for s in self.stages]}

  @classmethod
  def from_dict(cls, d: dict) -> "SearchSpace":
    try:
      stages = tuple(Stage(int(s["channels"]), int(s["stride"]), int(s["layers"]),
                           tuple(s["ops"]) if s.get("ops") else None)
                     for s in d["stages"])
      residual = d.get("residual", False)
      if not isinstance(residual, bool):
        raise TypeError(f"residual must be true or false, got {residual!r}")
      return cls(str(d["name"]), int(d["stem_channels"]), stages, tuple(d["ops"]),
                 residual)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
      raise UserError(f"malformed search space: {type(e).__name__} {e}") from e


def _check(space: SearchSpace) -> None:
  if space.stem_channels < 1:
    raise UserError(f"space {space.name}: stem_channels must be >= 1")
  if not space.stages:
    raise UserError(f"space {space.name}: no stages")
  for i, s in enumerate(space.stages):
    if s.channels < 1 or s.layers < 1:
      raise UserError(f"space {space.name}: stage {i} needs channels >= 1 and "
                      f"layers >= 1, got {s.channels} and {s.layers}")
    if s.stride not in (1, 2):
      raise UserError(f"space {space.name}: stage {i} stride must be 1 or 2, "
                      f"got {s.stride}")
    cands = s.ops or space.ops
    if not cands:
      raise UserError(f"space {space.name}: stage {i} has no candidate ops")
    if len(set(cands)) != len(cands):
      raise UserError(f"space {space.name}: stage {i} lists an op twice")
    for spec in cands:
      ops.check_spec(spec)


PRESETS = {
    "large": SearchSpace("large", 16, (
        Stage(24, 2, 2), Stage(32, 1, 4), Stage(64, 2, 4), Stage(96, 1, 2),
        Stage(128, 2, 2)), LARGE_OPS, residual=True),
    "xlarge": SearchSpace("xlarge", 16, (
        Stage(24, 2, 2), Stage(32, 1, 4), Stage(64, 2, 4), Stage(96, 1, 2),
        Stage(128, 2, 2)), XLARGE_OPS, residual=True),
    "darts": SearchSpace("darts", 16, (
        Stage(16, 1, 2), Stage(32, 2, 3), Stage(64, 2, 3)), DARTS_OPS),
    "tiny": SearchSpace("tiny", 8, (Stage(8, 1, 1), Stage(16, 2, 2)),
                        ("conv_k3", "sepconv_k3", "maxpool_k3", "skip"), residual=True),
}


def load(name_or_path: str) -> SearchSpace:
  """A preset by name, or a JSON file holding `SearchSpace.to_dict()`."""
  if name_or_path in PRESETS:
    return PRESETS[name_or_path]
  if not os.path.isfile(name_or_path):
    raise UserError(f"unknown search space '{name_or_path}': not a preset "
                    f"({', '.join(PRESETS)}) nor a file")
  try:
    with open(name_or_path) as f:
      d = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f"cannot read search space {name_or_path}: {e}") from e
  if not isinstance(d, dict):
    raise UserError(f"malformed search space {name_or_path}: not a JSON object")
  return SearchSpace.from_dict(d)


@dataclasses.dataclass(frozen=True)
class Subspace:
  """Alive candidate indices per layer (indices into the layer's candidate list)."""
  alive: Tuple[Tuple[int, ...], ...]

  @classmethod
  def full(cls, space: SearchSpace) -> "Subspace":
    return cls(tuple(tuple(range(len(c))) for c in space.candidates()))

  @classmethod
  def first(cls, space: SearchSpace, k: int) -> "Subspace":
    """The first `k` candidates of every layer (all of a layer with fewer)."""
    return cls(tuple(tuple(range(min(k, len(c)))) for c in space.candidates()))

  def without(self, layer: int, index: int) -> "Subspace":
    if index not in self.alive[layer]:
      raise ValueError(f"candidate {index} of layer {layer} is not alive")
    if len(self.alive[layer]) == 1:
      raise ValueError(f"layer {layer} would have no candidate left")
    alive = list(self.alive)
    alive[layer] = tuple(i for i in alive[layer] if i != index)
    return Subspace(tuple(alive))

  def log10_size(self) -> float:
    return sum(math.log10(len(a)) for a in self.alive)

  def num_alive(self) -> int:
    return sum(len(a) for a in self.alive)

  def widest(self) -> int:
    """Alive candidates of the layer with the most."""
    return max(len(a) for a in self.alive)

  def mask(self, space: "SearchSpace") -> np.ndarray:
    """[layers, max candidates] float32: 1 alive, 0 pruned or absent."""
    return candidate_matrix([[float(i in a) for i in range(len(c))]
                             for a, c in zip(self.alive, space.candidates())],
                            0.0).astype(np.float32)

  def to_json(self) -> list:
    return [list(a) for a in self.alive]

  @classmethod
  def from_json(cls, alive: Sequence[Sequence[int]]) -> "Subspace":
    return cls(tuple(tuple(int(i) for i in a) for a in alive))

  def check_against(self, space: SearchSpace) -> None:
    cands = space.candidates()
    if len(self.alive) != len(cands) or any(
        not a or any(not 0 <= i < len(c) for i in a)
        for a, c in zip(self.alive, cands)):
      raise UserError("the subspace does not belong to this search space")


def candidate_matrix(rows: Sequence[Sequence[float]], fill: float) -> np.ndarray:
  """The one [layers, max candidates] layout of per-candidate values (masks,
  alphas, costs, rewards): row l holds layer l's candidates, `fill` pads it."""
  m = np.full((len(rows), max(len(r) for r in rows)), fill, np.float64)
  for l, row in enumerate(rows):
    m[l, :len(row)] = row
  return m


def log10_size(space: SearchSpace) -> float:
  return Subspace.full(space).log10_size()
