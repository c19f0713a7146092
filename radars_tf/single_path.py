"""Weight sharing in `single_path` mode: train the supernet's shared weights on
sampled paths and score sampled architectures with them (the agent's reward).

Memory-cheap: one op per layer is live at a time, whatever the subspace size.
"""
from typing import Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf.training import count_correct, optimizer_for, per_example_loss
from radars_tf.supernet import Supernet


class SinglePathTrainer:
  """Trains shared weights on uniformly sampled alive paths (SPOS/ENAS style) and
  scores given paths by accuracy on validation batches.

  The steps run eagerly, op by op, on purpose: every step takes a new path, and a
  compiled step either traces per path (about 1 s each on the large space against
  0.26 s for an eager step, batch 64, 2-core CPU) or branches over every candidate
  with `switch_case`, whose gradient took over five minutes to trace for 14 layers
  of 26 candidates. Eager steps also let the optimizer see only the path's
  variables, so momentum never moves ops off the path.
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
    """Follows the supernet's current subspace (drops pruned ops' slots)."""
    with self.strategy.scope():
      self.opt = optimizer_for(self.net.trainable_variables, self.opt,
                               lambda: tf.keras.optimizers.SGD(
                                   self.learning_rate, momentum=0.9, nesterov=True,
                                   global_clipnorm=5.0))

  def sample_path(self) -> Tuple[int, ...]:
    return tuple(int(self.rng.choice(a)) for a in self.net.subspace.alive)

  def _replica_train(self, x, y, path):
    with tf.GradientTape() as tape:
      logits = self.net(x, training=True, path=path)
      loss = tf.reduce_sum(per_example_loss(y, logits)) / self.global_batch_size
    variables = tape.watched_variables()
    self.opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  def train(self, iterator, steps: int, on_step=None) -> float:
    """`steps` steps, each on a freshly sampled path; returns the mean loss."""
    losses = []
    for step in range(steps):
      x, y = next(iterator)
      loss = self.strategy.run(self._replica_train, args=(x, y, self.sample_path()))
      losses.append(float(self.strategy.reduce("SUM", loss, axis=None)))
      if on_step:
        on_step(step, losses[-1])
    return float(np.mean(losses)) if losses else float("nan")

  def _replica_score(self, x, y, path):
    # Batch statistics (training=True): shared BN moving averages mix many paths.
    logits = self.net(x, training=True, path=path)
    return count_correct(y, logits), tf.cast(tf.shape(y)[0], tf.float32)

  def score(self, iterator, path: Sequence[int], batches: int) -> float:
    """Accuracy of `path` on `batches` validation batches."""
    correct = count = 0.0
    for _ in range(batches):
      x, y = next(iterator)
      c, n = self.strategy.run(self._replica_score, args=(x, y, tuple(path)))
      correct += float(self.strategy.reduce("SUM", c, axis=None))
      count += float(self.strategy.reduce("SUM", n, axis=None))
    return correct / max(count, 1.0)
