"""Candidate-op registry: a spec string -> a short program of primitives.

One primitive program serves twice: `OpLayer` builds the Keras layers from it and
`op_cost` counts its parameters, multiply-accumulates and the activations a training
step keeps for the backward pass (the memory model reads those). Keeping both on the
same program means the cost model cannot drift from the layers it describes.
"""
import dataclasses
import math
import re
from typing import Callable, Dict, List, Tuple

import tensorflow as tf

from radars_tf.errors import UserError


@dataclasses.dataclass(frozen=True)
class Prim:
  """One primitive: conv, dwconv, bn, relu, relu6, maxpool, avgpool, subsample, zero."""
  kind: str
  kernel: int = 1
  stride: int = 1
  dilation: int = 1
  filters: int = 0


@dataclasses.dataclass(frozen=True)
class OpProgram:
  prims: Tuple[Prim, ...]
  residual: bool = False   # add the input to the output (MBConv at stride 1)


def _conv1x1(cout, stride=1):
  return (Prim("conv", 1, stride, filters=cout), Prim("bn"))


def _project_if_needed(cin, cout):
  return _conv1x1(cout) if cin != cout else ()


def _mbconv(m, cin, cout, stride):
  e, k = int(m["e"]), int(m["k"])
  expand = (Prim("conv", 1, filters=cin * e), Prim("bn"), Prim("relu6")) if e > 1 else ()
  return OpProgram(expand + (Prim("dwconv", k, stride), Prim("bn"), Prim("relu6"))
                   + _conv1x1(cout), residual=stride == 1 and cin == cout)


def _sepconv(m, cin, cout, stride):
  return OpProgram((Prim("relu"), Prim("dwconv", int(m["k"]), stride))
                   + _conv1x1(cout))


def _dilconv(m, cin, cout, stride):
  # Keras cannot stride and dilate at once: dilate at stride 1, then subsample.
  sub = (Prim("subsample", stride=stride),) if stride > 1 else ()
  return OpProgram((Prim("relu"), Prim("dwconv", int(m["k"]), 1, dilation=2)) + sub
                   + _conv1x1(cout))


def _conv(m, cin, cout, stride):
  return OpProgram((Prim("relu"), Prim("conv", int(m["k"]), stride, filters=cout),
                    Prim("bn")))


def _pool(kind):
  def build(m, cin, cout, stride):
    return OpProgram((Prim(kind, int(m["k"]), stride),) + _project_if_needed(cin, cout))
  return build


def _skip(m, cin, cout, stride):
  if stride == 1 and cin == cout:
    return OpProgram(())
  return OpProgram((Prim("relu"),) + _conv1x1(cout, stride))


def _zero(m, cin, cout, stride):
  return OpProgram((Prim("zero", stride=stride, filters=cout),))


# family -> (pattern of its spec strings, program builder).
REGISTRY: Dict[str, Tuple[str, Callable]] = {
    "mbconv": (r"mbconv_e(?P<e>[1-9])_k(?P<k>[357])", _mbconv),
    "sepconv": (r"sepconv_k(?P<k>[357])", _sepconv),
    "dilconv": (r"dilconv_k(?P<k>[357])", _dilconv),
    "conv": (r"conv_k(?P<k>[1357])", _conv),
    "maxpool": (r"maxpool_k(?P<k>[35])", _pool("maxpool")),
    "avgpool": (r"avgpool_k(?P<k>[35])", _pool("avgpool")),
    "skip": (r"skip", _skip),
    "zero": (r"zero", _zero),
}


def check_spec(spec: str) -> str:
  """Returns `spec` if the registry knows it as a candidate, else raises UserError."""
  if spec in (STEM, SHORTCUT):
    raise UserError(f"'{spec}' is a fixed part of the network, not a candidate op")
  op_program(spec, 8, 8, 1)
  return spec


STEM = "stem"   # conv3x3 + BN + ReLU on the image: the fixed first layer
# Residual spaces: a layer's own path around its op, the same whichever op is
# chosen: the identity, or a strided 1x1 conv + BN where the shape changes.
SHORTCUT = "shortcut"


def op_program(spec: str, cin: int, cout: int, stride: int) -> OpProgram:
  if spec == STEM:
    return OpProgram((Prim("conv", 3, stride, filters=cout), Prim("bn"), Prim("relu")))
  if spec == SHORTCUT:
    return OpProgram(() if stride == 1 and cin == cout else _conv1x1(cout, stride))
  for pattern, build in REGISTRY.values():
    m = re.fullmatch(pattern, spec)
    if m:
      return build(m.groupdict(), cin, cout, stride)
  raise UserError(f"unknown op '{spec}'; known families: "
                  + ", ".join(p for p, _ in REGISTRY.values()))


@dataclasses.dataclass(frozen=True)
class OpCost:
  """Per-example costs of one op at one input resolution.

  A DNAS step runs two backward passes that keep different tensors (TensorFlow
  frees a forward tensor once no gradient reads it): the weight pass needs conv
  inputs for the filter gradients; the alpha pass needs no filter gradient, but
  needs each op's output for its mixing weight's gradient (see memory_model).
  """
  params: int          # all weights, BN moving statistics included
  trainable: int       # what the optimizer updates (and keeps slots for)
  macs: int            # multiply-accumulates of the forward pass
  kept_weight: int     # elements of the op's own tensors the weight pass keeps
  kept_alpha: int      # ... the alpha pass keeps (output excluded, see below)
  input_weight: bool   # the weight pass's backward reads the op's input
  input_alpha: bool    # the alpha pass's backward reads it
  output_elems: int    # the op's output
  output_kept: bool    # its output is already counted in kept_alpha (ReLU, pool)
  largest_elems: int   # its largest tensor: the backward's transient gradient
  identity: bool       # passes its input through (no primitives)
  passes_gradient: bool  # its input gets a gradient from it (all but `zero`)

  @property
  def kept(self) -> int:
    """Activation elements a training step keeps for this op (ordering proxy)."""
    return max(self.kept_weight, self.kept_alpha + self.output_elems
               * (not self.output_kept))


BYTES_PER_ELEMENT = 4                                # float32
_NEEDS_INPUT = ("conv", "dwconv", "bn", "maxpool")   # weight pass reads the input
_NEEDS_INPUT_ALPHA = ("bn", "maxpool")               # a conv's input grad does not
_NEEDS_OUTPUT = ("relu", "relu6", "maxpool")         # backward reads the output


def _out_size(size: int, stride: int) -> int:
  return math.ceil(size / stride)


def program_cost(program: OpProgram, hw: int, cin: int) -> OpCost:
  """Counts of one op program on an `hw` x `hw` x `cin` input, per example.

  A tensor is kept for a backward pass when its producer's gradient reads it
  (ReLU, max pool) or its consumer's does (per pass, `_NEEDS_INPUT*`); each tensor
  is counted once.
  """
  params = trainable = macs = kept_w = kept_a = 0
  c, largest, out_kept = cin, hw * hw * cin, False
  prims = program.prims
  for j, p in enumerate(prims):
    if p.kind in ("conv", "dwconv"):
      if p.dilation > 1:
        # TF dilates through space-to-batch: a copy of the input, padded by the
        # dilated kernel's reach and up to a multiple of the dilation (its block),
        # which the filter gradient reads.
        padded = math.ceil((hw + (p.kernel - 1) * p.dilation) / p.dilation) * p.dilation
        kept_w += padded * padded * c
        # Its backward holds the padded input's gradient beside the output's
        # gradient in space-to-batch layout (a copy of the incoming gradient).
        out = _out_size(hw, p.stride)
        largest = max(largest, padded * padded * c + out * out * c)
      hw = _out_size(hw, p.stride)
      cout = p.filters if p.kind == "conv" else c
      w = p.kernel * p.kernel * (c * cout if p.kind == "conv" else c)
      params += w
      trainable += w
      macs += hw * hw * w
      c = cout
    elif p.kind == "bn":
      params += 4 * c
      trainable += 2 * c
    elif p.kind in ("maxpool", "avgpool", "subsample"):
      hw = _out_size(hw, p.stride)
      if p.kind != "subsample":
        macs += hw * hw * c * p.kernel * p.kernel
    elif p.kind == "zero":
      hw, c = _out_size(hw, p.stride), p.filters
    elems = hw * hw * c
    largest = max(largest, elems)
    nxt = prims[j + 1].kind if j + 1 < len(prims) else None
    if p.kind in _NEEDS_OUTPUT or nxt in _NEEDS_INPUT:
      kept_w += elems
    out_kept = p.kind in _NEEDS_OUTPUT or nxt in _NEEDS_INPUT_ALPHA
    kept_a += elems if out_kept else 0
    if p.kind == "maxpool":
      # oneDNN's CPU max pool also keeps a workspace for its gradient, a byte per
      # output element (counted in float32 elements; a GPU has none).
      kept_w += -(-elems // BYTES_PER_ELEMENT)
      kept_a += -(-elems // BYTES_PER_ELEMENT)
  first = prims[0].kind if prims else None
  return OpCost(params, trainable, macs, kept_w, kept_a,
                input_weight=first in _NEEDS_INPUT,
                input_alpha=first in _NEEDS_INPUT_ALPHA,
                output_elems=hw * hw * c, output_kept=out_kept or not prims,
                largest_elems=largest, identity=not prims,
                passes_gradient=first != "zero")


def op_cost(spec: str, hw: int, cin: int, cout: int, stride: int) -> OpCost:
  return program_cost(op_program(spec, cin, cout, stride), hw, cin)


def _make_layer(p: Prim, name: str, zero_gamma: bool = False
                ) -> tf.keras.layers.Layer:
  if p.kind == "conv":
    return tf.keras.layers.Conv2D(p.filters, p.kernel, p.stride, padding="same",
                                  dilation_rate=p.dilation, use_bias=False, name=name)
  if p.kind == "dwconv":
    return tf.keras.layers.DepthwiseConv2D(p.kernel, p.stride, padding="same",
                                           dilation_rate=p.dilation, use_bias=False,
                                           name=name)
  if p.kind == "bn":
    return tf.keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, name=name,
        gamma_initializer="zeros" if zero_gamma else "ones")
  if p.kind == "relu":
    return tf.keras.layers.ReLU(name=name)
  if p.kind == "relu6":
    return tf.keras.layers.ReLU(6.0, name=name)
  if p.kind == "maxpool":
    return tf.keras.layers.MaxPool2D(p.kernel, p.stride, padding="same", name=name)
  if p.kind == "avgpool":
    return tf.keras.layers.AveragePooling2D(p.kernel, p.stride, padding="same",
                                            name=name)
  if p.kind == "subsample":
    return Subsample(p.stride, name=name)
  if p.kind == "zero":
    return Zero(p.filters, p.stride, name=name)
  raise ValueError(f"unknown primitive {p.kind}")


@tf.keras.saving.register_keras_serializable(package="radars_tf")
class Subsample(tf.keras.layers.Layer):
  """Keeps every `stride`-th row and column (stride after a dilated conv)."""

  def __init__(self, stride: int, **kwargs):
    super().__init__(**kwargs)
    self.stride = stride

  def call(self, x):
    return x[:, ::self.stride, ::self.stride, :]

  def get_config(self):
    return dict(super().get_config(), stride=self.stride)


@tf.keras.saving.register_keras_serializable(package="radars_tf")
class Zero(tf.keras.layers.Layer):
  """The `zero` op: no connection, an all-zero output of the right shape."""

  def __init__(self, filters: int, stride: int, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.stride = filters, stride

  def call(self, x):
    x = x[:, ::self.stride, ::self.stride, :1]
    return tf.zeros_like(x) * tf.zeros((self.filters,), x.dtype)

  def get_config(self):
    return dict(super().get_config(), filters=self.filters, stride=self.stride)


@tf.keras.saving.register_keras_serializable(package="radars_tf")
class OpLayer(tf.keras.layers.Layer):
  """A candidate op as a Keras layer, built from its spec string.

  `branch`: the op is the residual branch beside a layer's SHORTCUT (residual
  spaces): no residual of its own, and its last BN starts at zero scale, so that
  every path of a supernet starts as the same network of shortcuts (Goyal et al.
  2017); measured, this is what lets shared weights learn (README).
  """

  def __init__(self, spec: str, cin: int, cout: int, stride: int,
               branch: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.spec, self.cin, self.cout, self.stride = spec, cin, cout, stride
    self.branch = branch
    self.program = op_program(spec, cin, cout, stride)
    last = len(self.program.prims) - 1
    self.steps: List[tf.keras.layers.Layer] = [
        _make_layer(p, f"{p.kind}{i}", branch and i == last)
        for i, p in enumerate(self.program.prims)]

  @property
  def identity(self) -> bool:
    """The op passes its input through (skip at an unchanged shape): as a branch,
    it adds nothing to the shortcut."""
    return not self.program.prims

  def call(self, x, training=None):
    y = x
    for layer in self.steps:
      y = layer(y, training=training) if isinstance(
          layer, tf.keras.layers.BatchNormalization) else layer(y)
    return x + y if self.program.residual and not self.branch else y

  def get_config(self):
    return dict(super().get_config(), spec=self.spec, cin=self.cin, cout=self.cout,
                stride=self.stride, branch=self.branch)
