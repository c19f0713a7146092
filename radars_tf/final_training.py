"""Final training: the found genotype, retrained from scratch on the full train
split, evaluated once on the test split, exported (SavedModel and .keras).

Resumable like the search: model and optimizer are checkpointed every
`save_steps` steps and at every epoch's end, and a restarted training continues
from the last checkpoint on the same stream of batches (the data skips what was
already seen), so that it ends with the weights an uninterrupted one would have.
"""
import dataclasses
import math
import os
import time
from typing import Callable, Optional

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


def learning_rate_schedule(learning_rate: float, total_steps: int,
                           warmup_steps: int = 0):
  """Linear warm-up from 0 over `warmup_steps`, then cosine decay to 0 by
  `total_steps`."""
  warmup_steps = min(warmup_steps, total_steps - 1)
  if warmup_steps <= 0:
    return tf.keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps))
  return tf.keras.optimizers.schedules.CosineDecay(
      0.0, total_steps - warmup_steps, warmup_target=learning_rate,
      warmup_steps=warmup_steps)


def smoothed_loss(num_classes: int, label_smoothing: float):
  """Cross-entropy of integer labels against logits, with label smoothing (Keras
  2's sparse loss has none)."""
  if not label_smoothing:
    return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

  def loss(labels, logits):
    onehot = tf.one_hot(tf.reshape(tf.cast(labels, tf.int32), [-1]), num_classes)
    return tf.keras.losses.categorical_crossentropy(
        onehot, logits, from_logits=True, label_smoothing=label_smoothing)
  return loss


def compile_model(model: tf.keras.Model, learning_rate: float, total_steps: int,
                  warmup_steps: int = 0, label_smoothing: float = 0.0):
  model.compile(
      optimizer=training.sgd(learning_rate_schedule(learning_rate, total_steps,
                                                    warmup_steps),
                             nesterov=True, weight_decay=5e-4),
      loss=smoothed_loss(model.output_shape[-1], label_smoothing),
      metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


class FinalInterrupted(Exception):
  """A stop was requested during final training; its state at `step` is saved."""

  def __init__(self, step: int, epoch: int):
    super().__init__(f"final training stopped at step {step} (epoch {epoch + 1})")
    self.step, self.epoch = step, epoch


class _Checkpointing(tf.keras.callbacks.Callback):
  """Saves every `every` steps and at each epoch's end; on a stop request saves
  and ends the training at the step boundary."""

  def __init__(self, manager: tf.train.CheckpointManager, every: int,
               stop_requested: Callable[[], bool], saved_step: Optional[int]):
    super().__init__()
    self.manager, self.every, self.stop_requested = manager, every, stop_requested
    self.saved_step = saved_step    # the step of the newest checkpoint
    self.stopped_at = None

  def _save(self) -> int:
    step = int(self.model.optimizer.iterations.numpy())
    if step != self.saved_step:
      self.manager.save(checkpoint_number=step)
      self.saved_step = step
    return step

  def on_train_batch_end(self, batch, logs=None):
    if self.stop_requested():
      self.stopped_at = self._save()
      self.model.stop_training = True
    elif self.every and int(self.model.optimizer.iterations.numpy()) % self.every == 0:
      self._save()

  def on_epoch_end(self, epoch, logs=None):
    self._save()


def train_and_evaluate(geno: Genotype, space: SearchSpace, source: DataSource,
                       strategy: tf.distribute.Strategy, batch_size: int,
                       epochs: int, learning_rate: float, logdir: str = None,
                       verbose: int = 2, checkpoint_dir: Optional[str] = None,
                       save_steps: int = 0, restore_dir: Optional[str] = None,
                       stop_requested: Callable[[], bool] = lambda: False,
                       warmup_epochs: float = 0.0, label_smoothing: float = 0.0,
                       augment: Optional[bool] = None):
  """Returns the trained model and its FinalResult (test split evaluated once).

  The learning rate warms up linearly over `warmup_epochs`, then decays (cosine);
  `augment` (random crop, padded, and horizontal flip) defaults to the dataset's.

  With `checkpoint_dir`, continues from the last checkpoint of `restore_dir`
  (default: `checkpoint_dir`; a non-chief worker restores the chief's) and raises
  FinalInterrupted (state saved) once `stop_requested()`.
  """
  steps_per_epoch = max(1, source.splits.num_train // batch_size)
  with strategy.scope():
    model = geno.build(space, source.input_shape, source.spec.num_classes)
    compile_model(model, learning_rate, steps_per_epoch * max(1, epochs),
                  int(round(warmup_epochs * steps_per_epoch)), label_smoothing)
    model.optimizer.build(model.trainable_variables)
  callbacks = [tf.keras.callbacks.TensorBoard(logdir, update_freq="epoch")
               ] if logdir else []
  done = 0
  if checkpoint_dir:
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, optimizer=model.optimizer), checkpoint_dir,
        max_to_keep=2)
    latest = tf.train.latest_checkpoint(restore_dir or checkpoint_dir)
    if latest:
      manager.checkpoint.restore(latest).assert_consumed()
      done = int(model.optimizer.iterations.numpy())
    saver = _Checkpointing(manager, save_steps, stop_requested,
                           done if latest and restore_dir in (None, checkpoint_dir)
                           else None)
    callbacks.append(saver)
  start = time.time()
  history = {}
  total = epochs * steps_per_epoch
  while done < total:
    # One fit per stretch that starts at an epoch's step `first`: Keras counts
    # epochs, the data stream continues where the last stretch ended.
    epoch, first = divmod(done, steps_per_epoch)
    train = source.distributed(strategy, "train", batch_size, training=True,
                               skip_batches=done, augment=augment)
    fit = model.fit(train, initial_epoch=epoch, epochs=epoch + 1 if first else epochs,
                    steps_per_epoch=steps_per_epoch - first, callbacks=callbacks,
                    verbose=verbose)
    history = fit.history or history
    done = int(model.optimizer.iterations.numpy())
    if checkpoint_dir and saver.stopped_at is not None:
      raise FinalInterrupted(done, done // steps_per_epoch)
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
  """Writes `saved_model/` (serving signature) and `model.keras` (for inference:
  the training state is in the final checkpoints); returns paths.

  What is saved is a plain copy (nothing distributed in the files): under
  multi-worker, saving the distributed model reads BatchNorm's on-read
  statistics by an all-reduce per variable, for each of the two formats, while
  the other worker may already be writing and leaving (one CI run failed there,
  the chief's heartbeat timing out; cause not established). The copy reads them
  once, before any file is written."""
  copy = tf.keras.models.clone_model(model)
  copy.set_weights(model.get_weights())
  saved = os.path.join(export_dir, "saved_model")
  keras_path = os.path.join(export_dir, "model.keras")
  tf.saved_model.save(copy, saved)
  copy.save(keras_path)
  return {"saved_model": saved, "keras": keras_path}
