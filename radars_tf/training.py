"""Pieces every training loop shares: the loss, accuracy, the SGD optimizer, and
keeping an optimizer in step with a supernet whose ops pruning deletes."""
from typing import Callable, Optional

import tensorflow as tf

MOMENTUM = 0.9
CLIP_NORM = 5.0    # global gradient norm every search and final step is clipped to


def per_example_loss(labels, logits):
  return tf.keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                         from_logits=True)


def count_correct(labels, logits):
  return tf.reduce_sum(tf.cast(
      tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))


def sgd(learning_rate, nesterov: bool = False, clip: bool = True,
        weight_decay: Optional[float] = None) -> tf.keras.optimizers.Optimizer:
  """The one SGD set-up of radars_tf: momentum 0.9, global-norm clipping at
  CLIP_NORM unless the caller clips itself (`clip=False`)."""
  return tf.keras.optimizers.SGD(learning_rate, momentum=MOMENTUM, nesterov=nesterov,
                                 weight_decay=weight_decay,
                                 global_clipnorm=CLIP_NORM if clip else None)


def fused_sgd(learning_rate) -> tf.keras.optimizers.legacy.SGD:
  """SGD with momentum MOMENTUM and global-norm clipping as one fused kernel a
  variable (ResourceApplyKerasMomentum), for a step traced over hundreds of
  variables: Keras 2's optimizer traces 7-10 ops a variable (10 of the 22 s that a
  DNAS step over 40 ops and 234 variables took to trace, 2-core CPU). It has no
  weight decay: add it to the gradients."""
  return tf.keras.optimizers.legacy.SGD(learning_rate, momentum=MOMENTUM,
                                        global_clipnorm=CLIP_NORM)


def accuracy(strategy: tf.distribute.Strategy, logits_fn: Callable, iterator,
             batches: int, compiled: bool = False) -> float:
  """Accuracy of `logits_fn(x)` (run per replica) on `batches` batches of
  `iterator`; `compiled` runs each batch as one tf.function."""
  def replica(x, y):
    return count_correct(y, logits_fn(x)), tf.cast(tf.shape(y)[0], tf.float32)

  def batch(x, y):
    c, n = strategy.run(replica, args=(x, y))
    return (strategy.reduce("SUM", c, axis=None), strategy.reduce("SUM", n, axis=None))
  # The batch is taken here, outside the compiled step: a Python iterator read
  # inside a tf.function would be read once, at tracing.
  step = tf.function(batch) if compiled else batch
  correct = count = 0.0
  for _ in range(batches):
    c, n = step(*next(iterator))
    correct, count = correct + float(c), count + float(n)
  return correct / max(count, 1.0)


def optimizer_for(variables, previous, make):
  """`previous` while it optimizes exactly `variables`, else a fresh one from
  `make()` carrying on its step count (pruning deleted some of its variables, and
  Keras optimizers keep slots for every variable they were built with)."""
  ids = {id(v) for v in variables}
  if previous is not None and getattr(previous, "_radars_ids", None) == ids:
    return previous
  opt = make()
  if isinstance(opt, tf.keras.optimizers.Optimizer):
    opt.build(variables)   # a legacy optimizer makes (and restores) slots on use
  if previous is not None:
    opt.iterations.assign(previous.iterations)
  opt._radars_ids = ids  # pylint: disable=protected-access
  return opt
