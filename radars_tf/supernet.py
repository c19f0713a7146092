"""The supernet: one Keras model holding every alive candidate of every layer.

Two forward modes over the same weights:
  * mixed: each layer outputs the weighted sum of its alive ops (DNAS);
  * single_path: each layer runs one chosen op, picked by a tensor of choices, so
    one compiled function scores any architecture the agent samples.
Pruning deletes an op's layer (its compute and weights); survivors keep theirs.
"""
from typing import Dict, Sequence, Tuple

import tensorflow as tf

from radars_tf import network, ops
from radars_tf.search_space import LayerSpec, SearchSpace, Subspace


class MixedLayer(tf.keras.layers.Layer):
  """One searchable layer: its alive candidate ops, keyed by candidate index."""

  def __init__(self, spec: LayerSpec, alive: Sequence[int], **kwargs):
    super().__init__(**kwargs)
    self.spec = spec
    self.candidate_ops: Dict[str, ops.OpLayer] = {
        str(i): ops.OpLayer(spec.candidates[i], spec.cin, spec.cout, spec.stride,
                            name=f"c{i}_{spec.candidates[i]}")
        for i in alive}

  @property
  def alive(self) -> Tuple[int, ...]:
    return tuple(sorted(int(k) for k in self.candidate_ops))

  def prune(self, index: int) -> None:
    del self.candidate_ops[str(index)]

  def mixed(self, x, weights, training):
    """Sum of alive ops weighted by `weights` ([candidates] vector)."""
    return tf.add_n([weights[i] * self.candidate_ops[str(i)](x, training=training)
                     for i in self.alive])

  def single(self, x, choice, training):
    """The output of the op `choice` (a scalar candidate-index tensor) alone."""
    alive = self.alive
    if len(alive) == 1:
      return self.candidate_ops[str(alive[0])](x, training=training)
    position = tf.gather(tf.constant(
        [alive.index(i) if i in alive else 0
         for i in range(len(self.spec.candidates))], tf.int32), choice)
    branches = [lambda op=self.candidate_ops[str(i)]: op(x, training=training)
                for i in alive]
    return tf.switch_case(position, branches)


class Supernet(tf.keras.Model):
  """Stem, one MixedLayer per searchable layer, head."""

  def __init__(self, space: SearchSpace, subspace: Subspace,
               input_shape: Tuple[int, int, int], num_classes: int, **kwargs):
    super().__init__(name="supernet", **kwargs)
    self.space = space
    self.image_shape = tuple(input_shape)
    self.num_classes = num_classes
    self.stem = network.stem(space, input_shape[2])
    self.searchable = [MixedLayer(spec, subspace.alive[spec.index],
                                  name=f"layer{spec.index}")
                       for spec in space.layers(input_shape[0])]
    self.head = network.Head(num_classes, name="head")
    self(tf.zeros((1,) + self.image_shape), choices=tf.zeros(
        (len(self.searchable),), tf.int32))                # builds every variable
    self.mixed_forward(tf.zeros((1,) + self.image_shape),
                       tf.ones((len(self.searchable), max(
                           len(c) for c in space.candidates()))), False)

  @property
  def subspace(self) -> Subspace:
    return Subspace(tuple(layer.alive for layer in self.searchable))

  def prune(self, layer: int, index: int) -> None:
    self.searchable[layer].prune(index)

  def apply_subspace(self, subspace: Subspace) -> None:
    """Prunes every candidate that `subspace` no longer holds."""
    for layer, alive in zip(self.searchable, subspace.alive):
      for i in set(layer.alive) - set(alive):
        layer.prune(i)

  def mixed_forward(self, x, weights, training):
    """DNAS forward: `weights` is [layers, candidates] mixing weights."""
    x = self.stem(x, training=training)
    for i, layer in enumerate(self.searchable):
      x = layer.mixed(x, weights[i], training)
    return self.head(x)

  def call(self, x, training=None, choices=None):
    """single_path forward: `choices` is an int vector, one candidate per layer."""
    x = self.stem(x, training=training)
    for i, layer in enumerate(self.searchable):
      x = layer.single(x, choices[i], training)
    return self.head(x)
