"""The fixed parts every network shares: stem and classifier head, and the
standalone (one op per layer) Keras model a genotype builds for retraining."""
from typing import Optional, Sequence, Tuple

import tensorflow as tf

from radars_tf import ops
from radars_tf.search_space import LayerSpec, SearchSpace


def stem(space: SearchSpace, input_channels: int) -> ops.OpLayer:
  return ops.OpLayer(ops.STEM, input_channels, space.stem_channels, 1, name="stem")


class Head(tf.keras.layers.Layer):
  """Global average pooling and a linear classifier (logits)."""

  def __init__(self, num_classes: int, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.pool = tf.keras.layers.GlobalAveragePooling2D()
    self.dense = tf.keras.layers.Dense(num_classes, name="logits")

  def call(self, x):
    return self.dense(self.pool(x))

  def get_config(self):
    return dict(super().get_config(), num_classes=self.num_classes)


tf.keras.saving.register_keras_serializable(package="radars_tf")(Head)


def shortcut(layer: LayerSpec, name: str) -> Optional[ops.OpLayer]:
  """A residual layer's shortcut, or None where it is the identity."""
  if not ops.op_program(ops.SHORTCUT, layer.cin, layer.cout, layer.stride).prims:
    return None
  return ops.OpLayer(ops.SHORTCUT, layer.cin, layer.cout, layer.stride, name=name)


def head_cost(cin: int, num_classes: int) -> Tuple[int, int]:
  """(parameters, MACs) of the head per example."""
  return cin * num_classes + num_classes, cin * num_classes


def standalone_model(space: SearchSpace, op_specs: Sequence[str],
                     input_shape: Tuple[int, int, int], num_classes: int,
                     name: str = "child") -> tf.keras.Model:
  """A plain Keras functional model with one op per searchable layer."""
  layers = space.layers(input_shape[0])
  if len(op_specs) != len(layers):
    raise ValueError(f"{len(op_specs)} ops for {len(layers)} searchable layers")
  inputs = tf.keras.Input(input_shape)
  x = stem(space, input_shape[2])(inputs)
  for layer, spec in zip(layers, op_specs):
    op = ops.OpLayer(spec, layer.cin, layer.cout, layer.stride, space.residual,
                     name=f"layer{layer.index}_{spec}")
    if not space.residual:
      x = op(x)
      continue
    around = shortcut(layer, f"layer{layer.index}_shortcut")
    short = around(x) if around else x
    x = short if op.identity else tf.keras.layers.Add(
        name=f"layer{layer.index}_add")([short, op(x)])
  outputs = Head(num_classes, name="head")(x)
  return tf.keras.Model(inputs, outputs, name=name)
