"""The DNAS phase: rounds of first-order bilevel DNAS over the supernet's current
subspace, their measured memory, and what to do when a round runs out of memory or
measures over the budget."""
import time
from typing import Callable, Dict, Optional

import numpy as np
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import dnas_trainer, memory_model
from radars_tf.step_reporter import SearchFault, TimeBudgetSpent
from radars_tf.supernet import Supernet

MAX_OOM_RETRIES = 3
# A round the time budget cuts still counts (its alphas decide the genotype) once
# it ran this share of its steps.
CUT_ROUND_COUNTS = 0.25


class OverBudget(Exception):
  """A DNAS step measured above the memory budget: answered as out of memory.

  The estimate prunes to the budget before a round; this catches what it misses
  (the allocator's fragmentation varies from run to run). On a GPU the limit of
  --gpu_memory_limit_mb raises ResourceExhaustedError instead, before the excess
  is allocated; a CPU has no such limit, so the step that went over completes."""

  def __init__(self, measured_mb: float, message: str):
    super().__init__(message)
    self.measured_mb = measured_mb


class DnasPhase:
  """Owns the alphas and (from the first round on) the DNAS trainer of a supernet.

  Args:
    host: the running `search_loop.Search` (iterators, state, reporter, record).
  """

  def __init__(self, host, net: Supernet):
    self.host, self.net, cfg = host, net, host.cfg
    # Seconds of what runs between two rounds (RADARS: an RL iteration).
    self.between_rounds: Callable[[], float] = lambda: 0.0
    with host.strategy.scope():
      self.alphas = alphas_lib.Alphas(net.space, seed=cfg.seed)
    self.hp = dnas_trainer.DnasHParams(w_lr=cfg.w_lr, alpha_lr=cfg.alpha_lr,
                                       gumbel=cfg.gumbel)
    self.trainer = None
    if host.state.dnas_rounds:          # resumed after a round: restore its slots
      self.make_trainer()

  def make_trainer(self, total_steps: Optional[int] = None) -> None:
    """A fresh trainer whose schedules span `total_steps` (default: every round's
    steps)."""
    cfg = self.host.cfg
    self.trainer = dnas_trainer.DnasTrainer(
        self.net, self.alphas, self.host.strategy, self.host.state.batch_size,
        self.hp, total_steps or cfg.dnas_rounds * cfg.dnas_steps_per_round,
        self.host.objective,
        lambda: self.host.schedule.dnas_progress(self.host.elapsed))

  def variables_to_save(self) -> Dict[str, tf.Module]:
    objects = {"alphas": self.alphas}
    if self.trainer is not None:
      objects.update(dnas_w_opt=self.trainer.w_opt, dnas_a_opt=self.trainer.a_opt,
                     dnas_step=self.trainer.step_counter)
    return objects

  def sync(self) -> None:
    if self.trainer is not None:
      self.trainer.rebuild()

  def alpha_probs(self) -> np.ndarray:
    return self.alphas.probs(self.net.subspace.mask(self.net.space)).numpy()

  def seconds_to_count(self, first_step_seconds: float, step_seconds: float) -> float:
    """What a round needs before it counts: its set-up and first step, then steps
    up to CUT_ROUND_COUNTS of them."""
    return (first_step_seconds
            + CUT_ROUND_COUNTS * self.host.cfg.dnas_steps_per_round * step_seconds)

  def round_fits(self, after_between: bool = False) -> bool:
    """Whether a next round, begun now (or, with `after_between`, after what runs
    between rounds), reaches the share of its steps that counts before the time
    budget ends, judged by the last round's set-up and step times (the first
    round always starts: the schedule leaves DNAS its window). A round that would
    not is not begun, nor what runs before it."""
    host = self.host
    timed = [e for e in host.state.events
             if e["kind"] == "dnas_round" and "step_seconds" in e]
    if not timed:
      return True
    last = timed[-1]
    needed = ((self.between_rounds() if after_between else 0.0)
              + self.seconds_to_count(last["first_step_seconds"], last["step_seconds"]))
    if host.elapsed + needed <= host.schedule.end:
      return True
    host.record("no_time_for_round", needed_seconds=round(needed, 1))
    host.ctx.progress.note(f"no DNAS round {host.state.dnas_rounds + 1}: it needs "
                           f"about {needed:.0f} s to count, the time budget ends first")
    return False

  def converged(self) -> bool:
    """Every layer has one op left or a confident alpha distribution."""
    return len(alphas_lib.confident_layers(
        self.alpha_probs(), self.net.subspace, self.host.cfg.converge_threshold)
               ) == len(self.net.subspace.alive)

  def round(self) -> Dict[str, float]:
    """One DNAS round over the current subspace; returns its last metrics."""
    host, cfg, state = self.host, self.host.cfg, self.host.state
    steps, sub, number = cfg.dnas_steps_per_round, self.net.subspace, state.dnas_rounds
    started, step_ends = time.perf_counter(), []   # the round's set-up is timed too
    if self.trainer is None:
      self.make_trainer()
    else:
      self.trainer.rebuild()
    estimate = host.estimate_mb(sub)
    host.ctx.progress.phase(
        f"DNAS round {number + 1}: {sub.num_alive()} candidates alive, estimate "
        f"{estimate:.0f} MB of {cfg.budget_mb:.0f} MB", steps)
    metrics, done = {}, 0

    def per_step() -> float:
      return (step_ends[-1] - step_ends[0]) / (len(step_ends) - 1)

    def no_next_round() -> bool:
      """Whether a next round, timed like this one, could not count before the
      time budget ends: then this one goes on to the budget (no re-trace)."""
      if len(step_ends) < 2:
        return False
      needed = (self.between_rounds()
                + self.seconds_to_count(step_ends[0] - started, per_step()))
      return host.elapsed + needed > host.schedule.end

    def run():
      nonlocal metrics, done
      step = 0
      while step < steps or no_next_round():
        if step == steps:
          host.ctx.progress.phase(
              f"DNAS round {number + 1} goes on to the time budget (a next round "
              f"would not count)",
              max(1, int((host.schedule.end - host.elapsed) / per_step())))
        host.reporter.check_stop()
        metrics = self.trainer.train_step(host.train_iter, host.val_iter)
        step_ends.append(time.perf_counter())
        done += 1
        claimed = host.meter.claimed()
        if claimed > cfg.budget_mb * memory_model.MB:
          mb = claimed / memory_model.MB
          raise OverBudget(mb, f"step {done} measured {mb:.1f} MB a replica, over "
                               f"the budget of {cfg.budget_mb:.0f} MB (estimate "
                               f"{estimate:.1f} MB)")
        log = step % max(1, steps // 10) == 0 or step == steps - 1
        host.reporter.step(
            step if step < steps else step - steps, f"DNAS round {number + 1}",
            metrics["train_loss"] + metrics["val_loss"],
            {k: metrics[k] for k in ("train_loss", "val_acc")},
            {f"supernet/{k}": metrics[k] for k in
             ("train_loss", "train_acc", "val_loss", "val_acc")} | {
                 "supernet/temperature": metrics["tau"]} if log else None,
            int(self.trainer.step_counter.numpy()))
        step += 1

    t = self.trainer
    # The unit's fresh input pipelines fill their shuffle and prefetch buffers at
    # their first batch: host memory (outside a GPU; inside a CPU device's
    # allocator), not the step's, so they fill before the measurement.
    next(host.train_iter), next(host.val_iter)
    cut = None
    try:
      peak = host.measured(run, self.net.variables + t.w_opt.variables()
                           + [self.alphas.logits] + t.a_opt.variables)
    except TimeBudgetSpent as e:
      if done < CUT_ROUND_COUNTS * steps:
        raise
      cut, peak = e, e.step_peak
    probs = self.alpha_probs()
    ent = alphas_lib.mean_entropy(probs, sub)
    # Set-up (trainer, pipelines, trace) and first step; then the mean step.
    timing = {"first_step_seconds": round(step_ends[0] - started, 2),
              "step_seconds": round(per_step(), 3)} if done > 1 else {}
    host.ctx.summaries.scalars(number, {
        "memory/measured_peak_mb": peak / memory_model.MB,
        "memory/estimate_mb": estimate, "memory/budget_mb": cfg.budget_mb,
        "alphas/entropy": ent} | {f"dnas/{k}": v for k, v in timing.items()})
    host.ctx.summaries.image(number, "probs/alphas", probs,
                             "alpha softmax per layer (rows) and candidate")
    host.record("dnas_round", round=number, peak_mb=peak / memory_model.MB,
                estimate_mb=estimate, alive=sub.to_json(),
                alpha_entropy=ent, steps=done, **timing,
                **{k: round(v, 4) for k, v in metrics.items()})
    state.dnas_rounds += 1
    if cut:
      raise cut
    return metrics

  def round_surviving_oom(self, shrink: Callable[[], str]) -> None:
    """A ResourceExhaustedError or a step over the budget is recorded and
    answered by `shrink()` (which says what it did), then the round is tried
    again."""
    host = self.host
    for attempt in range(MAX_OOM_RETRIES + 1):
      try:
        self.round()
        return
      except (tf.errors.ResourceExhaustedError, OverBudget) as e:
        number = host.state.dnas_rounds + 1
        if attempt == MAX_OOM_RETRIES:
          raise SearchFault(f"out of memory {attempt + 1} times in DNAS round "
                            f"{number}; lower --memory_budget_mb") from e
        measured = isinstance(e, OverBudget)
        alive = self.net.subspace.to_json()
        how = shrink()
        host.record("out_of_memory", round=number - 1, answer=how,
                    message=str(e).splitlines()[0][:200], alive=alive,
                    **({"peak_mb": e.measured_mb} if measured else {}))
        what = str(e) if measured else "out of memory"
        host.ctx.progress.note(f"DNAS round {number}: {what}; {how}")
