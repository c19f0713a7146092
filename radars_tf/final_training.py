"""Final training: the found genotype, retrained from scratch on the full train
split, evaluated once on the test split, exported (SavedModel and .keras)."""
import dataclasses
import math
import os
import time

import tensorflow as tf

from radars_tf import memory_model, training
from radars_tf.data import DataSource
from radars_tf.genotype import Genotype
from radars_tf.search_space import SearchSpace


@dataclasses.dataclass
class FinalResult:
  test_accuracy: float
  test_loss: float
  params: int
  macs: int
  epochs: int
  train_seconds: float
  train_accuracy: float


def compile_model(model: tf.keras.Model, learning_rate: float, total_steps: int):
  schedule = tf.keras.optimizers.schedules.CosineDecay(learning_rate,
                                                       max(1, total_steps))
  model.compile(
      optimizer=training.sgd(schedule, nesterov=True, weight_decay=5e-4),
      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def train_and_evaluate(geno: Genotype, space: SearchSpace, source: DataSource,
                       strategy: tf.distribute.Strategy, batch_size: int,
                       epochs: int, learning_rate: float, logdir: str = None,
                       verbose: int = 2):
  """Returns the trained model and its FinalResult (test split evaluated once)."""
  steps_per_epoch = max(1, source.splits.num_train // batch_size)
  with strategy.scope():
    model = geno.build(space, source.input_shape, source.spec.num_classes)
    compile_model(model, learning_rate, steps_per_epoch * max(1, epochs))
  train = source.distributed(strategy, "train", batch_size, training=True)
  callbacks = [tf.keras.callbacks.TensorBoard(logdir, update_freq="epoch")
               ] if logdir else []
  start = time.time()
  history = {}
  if epochs:
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        callbacks=callbacks, verbose=verbose).history
  seconds = time.time() - start
  test = source.distributed(strategy, "test", batch_size, training=False)
  loss, acc = model.evaluate(test, steps=math.ceil(source.splits.num_test / batch_size),
                             verbose=0)
  return model, FinalResult(
      test_accuracy=float(acc), test_loss=float(loss), params=int(model.count_params()),
      macs=memory_model.model_macs(space, geno.ops, source.input_shape,
                                   source.spec.num_classes),
      epochs=epochs, train_seconds=seconds,
      train_accuracy=float(history.get("accuracy", [float("nan")])[-1]))


def export(model: tf.keras.Model, export_dir: str) -> dict:
  """Writes `saved_model/` (serving signature) and `model.keras`; returns paths."""
  saved = os.path.join(export_dir, "saved_model")
  keras_path = os.path.join(export_dir, "model.keras")
  tf.saved_model.save(model, saved)
  model.save(keras_path)
  return {"saved_model": saved, "keras": keras_path}
