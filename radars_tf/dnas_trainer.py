"""First-order bilevel DNAS (DARTS section 2.3, first-order): a weight step on a
train batch, then an alpha step on a val batch, both in `mixed` mode, compiled with
tf.function and run per replica with `strategy.run`."""
import dataclasses
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import training
from radars_tf.config import RunConfig
from radars_tf.cost_objective import CostObjective
from radars_tf.supernet import Supernet
from radars_tf.training import count_correct, optimizer_for, per_example_loss


@dataclasses.dataclass(frozen=True)
class DnasHParams:
  """Defaults follow DARTS: SGD+momentum with cosine decay and (coupled) weight
  decay for the weights, Adam(0.5, 0.999) with weight decay for the alphas; the
  learning rates and the rest that are flags default to the run's defaults
  (config.RunConfig)."""
  w_lr: float = RunConfig.w_lr
  w_lr_min: float = 0.001
  w_weight_decay: float = 3e-4
  alpha_lr: float = RunConfig.alpha_lr
  alpha_weight_decay: float = 1e-3
  gumbel: bool = RunConfig.gumbel
  # Mixing temperature, decayed exponentially over the search (FBNet). It applies to
  # the plain softmax too: flat mixing early, sharp late, so alphas and the derived
  # argmax agree by the end of the search.
  tau_start: float = 5.0
  tau_end: float = 0.5


def weight_optimizer(hp: DnasHParams, total_steps: int
                     ) -> tf.keras.optimizers.legacy.SGD:
  """Fused (see `training.fused_sgd`): the step's trace is part of every round's
  time; the weight decay is added to the gradients (`DnasTrainer.weight_pass`)."""
  lr = tf.keras.optimizers.schedules.CosineDecay(
      hp.w_lr, max(1, total_steps), alpha=hp.w_lr_min / hp.w_lr)
  return training.fused_sgd(lr)


def alpha_optimizer(hp: DnasHParams) -> tf.keras.optimizers.Optimizer:
  return tf.keras.optimizers.Adam(hp.alpha_lr, beta_1=0.5, beta_2=0.999,
                                  weight_decay=hp.alpha_weight_decay)


def temperature(hp: DnasHParams, step: int, total_steps: int,
                progress: float = 0.0) -> float:
  """Exponential decay from tau_start to tau_end over the search (FBNet): over its
  steps, or faster when `progress` (the share of DNAS's time spent) is ahead."""
  frac = max(min(1.0, step / max(1, total_steps)), min(1.0, progress))
  return float(hp.tau_start * (hp.tau_end / hp.tau_start) ** frac)


class DnasTrainer:
  """Owns the DNAS optimizers and compiled steps for one supernet and its alphas.

  Call `rebuild()` after pruning: the compiled steps capture the alive ops.
  """

  def __init__(self, supernet: Supernet, alphas: alphas_lib.Alphas,
               strategy: tf.distribute.Strategy, global_batch_size: int,
               hp: DnasHParams, total_steps: int,
               objective: Optional[CostObjective] = None,
               progress: Callable[[], float] = lambda: 0.0):
    """`progress`: the share of DNAS's time budget spent (see `temperature`)."""
    self.net, self.alphas, self.strategy = supernet, alphas, strategy
    self.progress = progress
    self.global_batch_size, self.hp, self.total_steps = (global_batch_size, hp,
                                                         total_steps)
    self.objective = objective if objective and objective.active else None
    self.w_opt = None
    with strategy.scope():
      self.a_opt = alpha_optimizer(hp)
      self.step_counter = tf.Variable(0, dtype=tf.int64, trainable=False,
                                      name="dnas_step")
    self.rebuild()

  def rebuild(self) -> None:
    """Re-traces the steps for the supernet's current subspace (a fresh weight
    optimizer drops the slots of pruned ops; the LR schedule carries on); keeps
    them while the subspace is unchanged (a trace costs seconds)."""
    previous = self.w_opt
    with self.strategy.scope():
      self.w_opt = optimizer_for(self.net.trainable_variables, self.w_opt,
                                 lambda: weight_optimizer(self.hp, self.total_steps))
    mask = self.net.subspace.mask(self.net.space)
    if self.w_opt is previous and np.array_equal(mask, self.mask.numpy()):
      return
    self.mask = tf.constant(mask)
    self._step = tf.function(self._distributed_step)

  def _weights(self, tau):
    seed = tf.stack([self.step_counter, tf.constant(7, tf.int64)])
    return self.alphas.mixing_weights(self.mask, tau, self.hp.gumbel, seed)

  def weight_pass(self, tx, ty, tau):
    """The weight half of a step (mixing weights held constant); per replica."""
    scale = 1.0 / self.global_batch_size
    with tf.GradientTape() as tape:
      logits = self.net.mixed_forward(tx, tf.stop_gradient(self._weights(tau)), True)
      per_ex = per_example_loss(ty, logits)
      loss = tf.reduce_sum(per_ex) * scale
    variables = self.net.trainable_variables
    grads = tape.gradient(loss, variables)
    # The update's temporaries (decay, clipping, momentum) wait for every gradient,
    # when backward has freed its activations; else the executor computes some of
    # them early and holds them through the backward pass. Replicas' gradients
    # are summed, so each adds its share of the decay.
    decay = self.hp.w_weight_decay / self.strategy.num_replicas_in_sync
    with tf.control_dependencies([g for g in grads if g is not None]):
      self.w_opt.apply_gradients([(g + decay * v, v)
                                  for g, v in zip(grads, variables) if g is not None])
    return tf.reduce_sum(per_ex), count_correct(ty, logits)

  def alpha_pass(self, vx, vy, tau):
    """The alpha half of a step (no weight gradient); per replica."""
    scale = 1.0 / self.global_batch_size
    with tf.GradientTape() as tape:
      w = self._weights(tau)
      vlogits = self.net.mixed_forward(vx, w, True)
      v_per_ex = per_example_loss(vy, vlogits)
      a_loss = tf.reduce_sum(v_per_ex) * scale
      if self.objective:                # replicas' alpha gradients are summed
        a_loss += (self.objective.expected_penalty(w)
                   / self.strategy.num_replicas_in_sync)
    self.a_opt.apply_gradients([(tape.gradient(a_loss, self.alphas.logits),
                                 self.alphas.logits)])
    return tf.reduce_sum(v_per_ex), count_correct(vy, vlogits)

  def _replica_step(self, tx, ty, vx, vy, tau):
    train_loss, train_correct = self.weight_pass(tx, ty, tau)
    # The alpha pass starts once every weight is updated, so that its activations
    # never coexist with the weight pass's gradients (reads follow the writes).
    with tf.control_dependencies([v.read_value()
                                  for v in self.net.trainable_variables]):
      vx = tf.identity(vx)
    val_loss, val_correct = self.alpha_pass(vx, vy, tau)
    return {"train_loss": train_loss, "train_correct": train_correct,
            "val_loss": val_loss, "val_correct": val_correct}

  def _distributed_step(self, train_iter, val_iter, tau):
    tx, ty = next(train_iter)
    vx, vy = next(val_iter)
    out = self.strategy.run(self._replica_step, args=(tx, ty, vx, vy, tau))
    self.step_counter.assign_add(1)
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in out.items()}

  def train_step(self, train_iter, val_iter) -> Dict[str, float]:
    """One bilevel step; returns mean losses and accuracies of its two batches."""
    tau = temperature(self.hp, int(self.step_counter.numpy()), self.total_steps,
                      self.progress())
    out = self._step(train_iter, val_iter, tf.constant(tau, tf.float32))
    n = float(self.global_batch_size)
    return {"train_loss": float(out["train_loss"]) / n,
            "train_acc": float(out["train_correct"]) / n,
            "val_loss": float(out["val_loss"]) / n,
            "val_acc": float(out["val_correct"]) / n, "tau": tau}
