"""The supernet: one Keras model holding every alive candidate of every layer.

Two forward modes over the same weights:
  * mixed: each layer outputs the weighted sum of its alive ops (DNAS);
  * single_path: each layer runs one chosen op (a path of Python ints); only that
    path's ops run and keep activations.
Pruning deletes an op's layer (its compute and weights); survivors keep theirs.
"""
import contextlib
import weakref
from typing import Dict, Sequence, Tuple

import tensorflow as tf

from radars_tf import network, ops
from radars_tf.search_space import LayerSpec, SearchSpace, Subspace


# layer -> {training: tf.function}; entries go with their layer (pruning).
_COMPILED = weakref.WeakKeyDictionary()


def compiled_call(layer: tf.keras.layers.Layer, x, training, enabled: bool = True):
  """`layer(x)`, run eagerly as one compiled function per layer and mode.

  single_path steps run eagerly (each takes a new path, see single_path.py); calling
  each op as its own tf.function, traced on first use, removes most of the per-op
  Python dispatch, and the tape differentiates through the call as one op.
  """
  if not (enabled and tf.executing_eagerly()):
    return layer(x, training=training)
  fns = _COMPILED.setdefault(layer, {})
  training = bool(training)
  if training not in fns:
    ref = weakref.ref(layer)   # the cache must not keep a pruned op alive
    fns[training] = tf.function(lambda t: ref()(t, training=training))
  return fns[training](x)


class MixedLayer(tf.keras.layers.Layer):
  """One searchable layer: its alive candidate ops, keyed by candidate index."""

  def __init__(self, spec: LayerSpec, alive: Sequence[int], residual: bool,
               **kwargs):
    super().__init__(**kwargs)
    self.spec, self.residual = spec, residual
    self.candidate_ops: Dict[str, ops.OpLayer] = {
        str(i): ops.OpLayer(spec.candidates[i], spec.cin, spec.cout, spec.stride,
                            residual, name=f"c{i}_{spec.candidates[i]}")
        for i in alive}
    # Residual spaces: one shortcut every candidate shares (None: identity).
    self.shortcut = network.shortcut(spec, "shortcut") if residual else None

  @property
  def alive(self) -> Tuple[int, ...]:
    return tuple(sorted(int(k) for k in self.candidate_ops))

  def prune(self, index: int) -> None:
    del self.candidate_ops[str(index)]

  def _around(self, x, training, compile_op: bool = False):
    return (compiled_call(self.shortcut, x, training, compile_op)
            if self.shortcut else x)

  def mixed(self, x, weights, training):
    """Sum of alive ops weighted by `weights` ([candidates] vector); in a
    residual space added to the shortcut (an identity op adds nothing)."""
    terms = [weights[i] * self.candidate_ops[str(i)](x, training=training)
             for i in self.alive
             if not (self.residual and self.candidate_ops[str(i)].identity)]
    if not self.residual:
      return tf.add_n(terms)
    return tf.add_n([self._around(x, training)] + terms)

  def single(self, x, choice: int, training, compile_op: bool = False):
    """The output of the alive op `choice` (see `compiled_call`), in a residual
    space added to the shortcut."""
    if str(choice) not in self.candidate_ops:
      raise ValueError(f"candidate {choice} of {self.name} is pruned")
    op = self.candidate_ops[str(choice)]
    if not self.residual:
      return compiled_call(op, x, training, compile_op)
    around = self._around(x, training, compile_op)
    return around if op.identity else around + compiled_call(op, x, training,
                                                             compile_op)


class Supernet(tf.keras.Model):
  """Stem, one MixedLayer per searchable layer, head."""

  def __init__(self, space: SearchSpace, subspace: Subspace,
               input_shape: Tuple[int, int, int], num_classes: int, **kwargs):
    super().__init__(name="supernet", **kwargs)
    self.space = space
    self.image_shape = tuple(input_shape)
    self.num_classes = num_classes
    self.stem = network.stem(space, input_shape[2])
    self.searchable = [MixedLayer(spec, subspace.alive[spec.index], space.residual,
                                  name=f"layer{spec.index}")
                       for spec in space.layers(input_shape[0])]
    self.head = network.Head(num_classes, name="head")
    self.compile_ops = False    # single_path: see `compiled_call`
    width = max(len(c) for c in space.candidates())
    self.mixed_forward(tf.zeros((1,) + self.image_shape),   # builds every variable
                       tf.ones((len(self.searchable), width)), False)

  @property
  def subspace(self) -> Subspace:
    return Subspace(tuple(layer.alive for layer in self.searchable))

  def apply_subspace(self, subspace: Subspace) -> None:
    """Prunes every candidate that `subspace` no longer holds."""
    for layer, alive in zip(self.searchable, subspace.alive):
      for i in set(layer.alive) - set(alive):
        layer.prune(i)

  @contextlib.contextmanager
  def focused(self, part: Subspace):
    """Inside, only `part`'s candidates (alive ones) are in the supernet: the
    others are set aside with their weights and come back at exit (DNAS over a
    slice, see slicing.py)."""
    for layer, keep in zip(self.searchable, part.alive):
      if not set(keep) <= set(layer.alive):
        raise ValueError(f"{layer.name}: candidates "
                         f"{sorted(set(keep) - set(layer.alive))} are not alive")
    aside = [(layer, i, layer.candidate_ops.pop(str(i)))
             for layer, keep in zip(self.searchable, part.alive)
             for i in sorted(set(layer.alive) - set(keep))]
    try:
      yield
    finally:
      for layer, i, op in aside:
        layer.candidate_ops[str(i)] = op

  def mixed_forward(self, x, weights, training):
    """DNAS forward: `weights` is [layers, candidates] mixing weights."""
    x = self.stem(x, training=training)
    for i, layer in enumerate(self.searchable):
      x = layer.mixed(x, weights[i], training)
    return self.head(x)

  def call(self, x, training=None, path=None):
    """single_path forward: `path` holds one alive candidate index per layer."""
    on = self.compile_ops
    x = compiled_call(self.stem, x, training, on)
    for layer, choice in zip(self.searchable, path):
      x = layer.single(x, int(choice), training, on)
    return compiled_call(self.head, x, False, on)
