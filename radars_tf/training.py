"""Pieces every training loop shares: the loss, accuracy counts, and keeping an
optimizer in step with a supernet whose ops pruning deletes."""
import tensorflow as tf


def per_example_loss(labels, logits):
  return tf.keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                         from_logits=True)


def count_correct(labels, logits):
  return tf.reduce_sum(tf.cast(
      tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))


def optimizer_for(variables, previous, make):
  """`previous` while it optimizes exactly `variables`, else a fresh one from
  `make()` carrying on its step count (pruning deleted some of its variables, and
  Keras optimizers keep slots for every variable they were built with)."""
  ids = {id(v) for v in variables}
  if previous is not None and getattr(previous, "_radars_ids", None) == ids:
    return previous
  opt = make()
  opt.build(variables)
  if previous is not None:
    opt.iterations.assign(previous.iterations)
  opt._radars_ids = ids  # pylint: disable=protected-access
  return opt
