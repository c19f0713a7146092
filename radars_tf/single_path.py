"""Weight sharing in `single_path` mode: train the supernet's shared weights on
sampled paths and score sampled architectures with them (the agent's reward).

Memory-cheap: one op per layer is live at a time, whatever the subspace size.
"""
import weakref
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from radars_tf import training
from radars_tf.supernet import Supernet
from radars_tf.training import CLIP_NORM, optimizer_for, per_example_loss


class SinglePathTrainer:
  """Trains shared weights on given paths (`path_sampler` chooses them) and scores
  paths by accuracy on validation batches.

  The steps run eagerly on purpose: every step takes a new path, and a compiled
  step either traces per path (about 1 s each on the large space against 0.26 s
  for an eager step, batch 64, 2-core CPU) or branches over every candidate with
  `switch_case`, whose gradient took over five minutes to trace for 14 layers of 26
  candidates. With `compiled` (one replica) each op runs as its own tf.function,
  forward and backward (`supernet.compiled_call`), and so does its update
  (`_update`): 0.13-0.17 s against 0.19-0.30 s eager on a fixed path, but on a new
  random path every step each unseen op traces first (0.98 s per step over the
  first 40 steps, 0.35 s over the next 40, against 0.25 s eager; batch 64, 2-core
  CPU, tools/bench_throughput.py), which a search of minutes does not earn back.
  Nor does one compiled step that never differentiates through `switch_case` (per
  layer a non-inlined function whose branches run their op, call the rest of the
  network, then their own backward and update): 12-20 s to trace and 8-28 s to
  instantiate for only 2 candidates in each of the 14 layers (measured 2026-11-29).
  Eager steps also let the optimizer see only the path's variables, so momentum
  never moves ops off the path.
  """

  def __init__(self, supernet: Supernet, strategy: tf.distribute.Strategy,
               global_batch_size: int, learning_rate: float,
               compiled: bool = False):
    self.net, self.strategy = supernet, strategy
    self.global_batch_size = global_batch_size
    self.learning_rate = learning_rate
    # Compiled pieces merge no replicas: with several, the steps stay op by op.
    self.compiled = compiled and strategy.num_replicas_in_sync == 1
    self.net.compile_ops = self.compiled
    self.opt = None
    self._updates = weakref.WeakKeyDictionary()   # layer -> its compiled update
    self.rebuild()

  def rebuild(self) -> None:
    """Follows the supernet's current subspace (drops pruned ops' slots)."""
    previous = self.opt
    with self.strategy.scope():
      self.opt = optimizer_for(self.net.trainable_variables, self.opt,
                               lambda: training.sgd(self.learning_rate, nesterov=True,
                                                    clip=False))
    if self.opt is not previous:
      self._updates = weakref.WeakKeyDictionary()

  def _groups(self, path: Sequence[int]):
    """(layer, its trainable variables) of the stem, the path's ops, the
    shortcuts and the head; the forward pass has already refused a pruned
    candidate."""
    net = self.net
    layers = ([net.stem] + [layer.candidate_ops[str(int(c))]
                            for layer, c in zip(net.searchable, path)]
              + [layer.shortcut for layer in net.searchable if layer.shortcut]
              + [net.head])
    return [(layer, layer.trainable_variables) for layer in layers]

  def _update(self, layer):
    """The compiled SGD update of `layer`'s weights by its gradients times a scale."""
    if layer not in self._updates:
      ref, opt = weakref.ref(layer), self.opt

      def update(grads, scale):
        opt.apply_gradients(zip([g * scale for g in grads],
                                ref().trainable_variables))
      self._updates[layer] = tf.function(update)
    return self._updates[layer]

  def _apply(self, groups, variables, grads) -> None:
    """SGD on the path's weights, clipped to a global norm of CLIP_NORM. Weights
    without a gradient (before a `zero` op, which cuts the path) stay as they are."""
    scale = tf.minimum(1.0, CLIP_NORM / tf.linalg.global_norm(
        [g for g in grads if g is not None]))
    if not self.compiled:
      self.opt.apply_gradients([(g * scale, v) for g, v in zip(grads, variables)
                                if g is not None])
      return
    start = 0
    for layer, vs in groups:
      part = grads[start:start + len(vs)]
      start += len(vs)
      if any(g is not None for g in part):
        self._update(layer)([tf.zeros_like(v) if g is None else g
                             for g, v in zip(part, vs)], scale)

  def _replica_train(self, x, y, path):
    with tf.GradientTape() as tape:
      logits = self.net(x, training=True, path=path)
      loss = tf.reduce_sum(per_example_loss(y, logits)) / self.global_batch_size
    groups = self._groups(path)
    variables = [v for _, vs in groups for v in vs]
    self._apply(groups, variables, tape.gradient(loss, variables))
    return loss

  def train_path(self, iterator, path: Sequence[int]) -> float:
    """One step on `path`; returns its loss."""
    x, y = next(iterator)
    loss = self.strategy.run(self._replica_train, args=(x, y, tuple(path)))
    return float(self.strategy.reduce("SUM", loss, axis=None))

  def train(self, iterator, steps: int, next_path: Callable[[], Sequence[int]]
            ) -> float:
    """`steps` steps, each on the path `next_path()` gives; returns the mean loss."""
    losses = [self.train_path(iterator, next_path()) for _ in range(steps)]
    return float(np.mean(losses)) if losses else float("nan")

  def score(self, iterator, path: Sequence[int], batches: int) -> float:
    """Accuracy of `path` on `batches` validation batches. Batch statistics
    (training=True): shared BN moving averages mix many paths."""
    path = tuple(path)
    return training.accuracy(self.strategy,
                             lambda x: self.net(x, training=True, path=path),
                             iterator, batches)
