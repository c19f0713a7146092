"""Scoring a child architecture the classic RL-NAS way: build it as a standalone
model, train it from scratch for a few steps, measure validation accuracy."""
from typing import Sequence

import tensorflow as tf

from radars_tf import genotype as genotype_lib
from radars_tf.search_space import SearchSpace
from radars_tf import training
from radars_tf.training import per_example_loss


class ChildEvaluator:
  """Callable: choices -> validation accuracy after `steps` training steps."""

  def __init__(self, space: SearchSpace, input_shape, num_classes: int,
               strategy: tf.distribute.Strategy, global_batch_size: int,
               steps: int, learning_rate: float, score_batches: int,
               train_iterator, val_iterator):
    self.space, self.input_shape, self.num_classes = space, input_shape, num_classes
    self.strategy, self.global_batch_size = strategy, global_batch_size
    self.steps, self.learning_rate, self.score_batches = (steps, learning_rate,
                                                          score_batches)
    self.train_iterator, self.val_iterator = train_iterator, val_iterator

  def __call__(self, choices: Sequence[int]) -> float:
    geno = genotype_lib.from_choices(self.space, choices)
    with self.strategy.scope():
      model = geno.build(self.space, self.input_shape, self.num_classes)
      opt = training.sgd(self.learning_rate)

    def replica_train(x, y):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(per_example_loss(y, model(x, training=True)))
        loss /= self.global_batch_size
      opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                              model.trainable_variables))

    @tf.function
    def train(iterator):
      for _ in tf.range(self.steps):
        self.strategy.run(replica_train, args=next(iterator))

    train(self.train_iterator)
    return training.accuracy(self.strategy, lambda x: model(x, training=False),
                             self.val_iterator, self.score_batches, compiled=True)
