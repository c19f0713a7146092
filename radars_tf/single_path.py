"""Weight sharing in `single_path` mode: train the supernet's shared weights on
sampled paths and score sampled architectures with them (the agent's reward).

Memory-cheap: one op per layer is live at a time, whatever the subspace size.
"""
from typing import Sequence

import numpy as np
import tensorflow as tf

from radars_tf.training import count_correct, optimizer_for, per_example_loss
from radars_tf.supernet import Supernet


class SinglePathTrainer:
  """Trains shared weights on uniformly sampled alive paths (SPOS/ENAS style) and
  scores given paths by accuracy on validation batches.

  Plain SGD: ops off the sampled path get zero gradients through `switch_case`,
  and momentum would keep moving them.
  """

  def __init__(self, supernet: Supernet, strategy: tf.distribute.Strategy,
               global_batch_size: int, learning_rate: float, seed: int):
    self.net, self.strategy = supernet, strategy
    self.global_batch_size = global_batch_size
    self.learning_rate = learning_rate
    self.rng = np.random.default_rng(seed)
    self.opt = None
    self.rebuild()

  def rebuild(self) -> None:
    """Re-traces the steps for the supernet's current subspace."""
    with self.strategy.scope():
      self.opt = optimizer_for(self.net.trainable_variables, self.opt,
                               lambda: tf.keras.optimizers.SGD(
                                   self.learning_rate, global_clipnorm=5.0))
    self._train = tf.function(self._distributed_train)
    self._score = tf.function(self._distributed_score)

  def sample_path(self) -> np.ndarray:
    return np.array([self.rng.choice(a) for a in self.net.subspace.alive], np.int32)

  def _replica_train(self, x, y, choices):
    with tf.GradientTape() as tape:
      logits = self.net(x, training=True, choices=choices)
      loss = tf.reduce_sum(per_example_loss(y, logits)) / self.global_batch_size
    variables = self.net.trainable_variables
    grads = tape.gradient(loss, variables)
    # Ops off the path get no gradient: skip them rather than feed None.
    self.opt.apply_gradients([(g, v) for g, v in zip(grads, variables)
                              if g is not None])
    return loss

  def _distributed_train(self, iterator, choices):
    x, y = next(iterator)
    loss = self.strategy.run(self._replica_train, args=(x, y, choices))
    return self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)

  def train(self, iterator, steps: int) -> float:
    """`steps` steps, each on a freshly sampled path; returns the mean loss."""
    losses = [float(self._train(iterator, tf.constant(self.sample_path())))
              for _ in range(steps)]
    return float(np.mean(losses)) if losses else float("nan")

  def _replica_score(self, x, y, choices):
    # Batch statistics (training=True): shared BN moving averages mix many paths.
    logits = self.net(x, training=True, choices=choices)
    return count_correct(y, logits), tf.cast(tf.shape(y)[0], tf.float32)

  def _distributed_score(self, iterator, choices):
    x, y = next(iterator)
    correct, n = self.strategy.run(self._replica_score, args=(x, y, choices))
    return (self.strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, n, axis=None))

  def score(self, iterator, choices: Sequence[int], batches: int) -> float:
    """Accuracy of the path `choices` on `batches` validation batches."""
    c = tf.constant(np.asarray(choices, np.int32))
    correct = count = 0.0
    for _ in range(batches):
      a, b = self._score(iterator, c)
      correct, count = correct + float(a), count + float(b)
    return correct / max(count, 1.0)
