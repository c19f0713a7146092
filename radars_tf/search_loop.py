"""The unit loop every search method runs (`search_methods.py` holds the methods).

A search runs as units (the warm-up, one RL phase and its pruning, one DNAS round,
one agent iteration of children...). Each unit starts from a seed derived from the
run's seed and the unit's index, with fresh input iterators, and the state is
checkpointed after it; a run killed mid-unit and resumed redoes that unit and, in
deterministic mode, ends where the uninterrupted run ends.
"""
import dataclasses
import time
from typing import Callable, Dict, List, Optional, Tuple

import tensorflow as tf

from radars_tf import genotype as genotype_lib
from radars_tf import latency_table, memory_model, memory_probe
from radars_tf.checkpointing import SearchCheckpoints
from radars_tf.config import RunConfig
from radars_tf.cost_objective import CostObjective
from radars_tf.data import DataSource
from radars_tf.pruning import PruneDecision
from radars_tf.search_space import SearchSpace, Subspace
from radars_tf.search_state import Phase, SearchState
from radars_tf.step_reporter import StepReporter, TimeBudgetSpent
from radars_tf.summaries import Progress, Summaries
from radars_tf.time_schedule import TimeSchedule


@dataclasses.dataclass
class SearchOutcome:
  genotype: genotype_lib.Genotype
  subspace: Subspace
  decisions: List[PruneDecision]
  events: List[dict]
  search_seconds: float
  peak_step_bytes: int            # measured, see `memory_probe.claimed_peak`
  estimate_mb: float              # DNAS estimate of the final subspace
  full_estimate_mb: float         # DNAS estimate of the whole space
  best_curve: List[Tuple[float, float]]   # (seconds, best score so far)


@dataclasses.dataclass
class SearchContext:
  cfg: RunConfig
  space: SearchSpace
  source: DataSource
  strategy: tf.distribute.Strategy
  summaries: Summaries
  progress: Progress
  checkpoints: Optional[SearchCheckpoints] = None
  stop_requested: Callable[[], bool] = lambda: False


class Search:
  """Runs a method's units until its phase is DONE or the time budget is spent.

  A method says what its next unit is (`next_unit`, a function of `self.state`),
  which variables a checkpoint holds and what the outcome is (`finish`).
  """

  def __init__(self, ctx: SearchContext, state: SearchState):
    self.ctx, self.cfg, self.space, self.state = ctx, ctx.cfg, ctx.space, state
    self.strategy = ctx.strategy
    self.meter: Optional[memory_probe.PeakMeter] = None     # see `measured`
    self.input_shape = ctx.source.input_shape
    self.num_classes = ctx.source.spec.num_classes
    # Measured (once per device, then cached) outside the search's time budget.
    latency = (latency_table.load_or_measure(
        self.space, self.input_shape, self.num_classes, self.per_replica_batch,
        self.cfg.latency_cache_dir, progress=ctx.progress)
               if self.cfg.target_ms else None)
    self.objective = CostObjective.for_space(
        self.space, self.input_shape, self.num_classes, self.cfg.cost_weight,
        self.cfg.target_mflops, self.cfg.cost_beta, latency, self.cfg.target_ms)
    self.start = time.time()
    self.reporter = StepReporter(ctx.progress, ctx.summaries, ctx.stop_requested,
                                 lambda: self.time_is_up())
    self.schedule = TimeSchedule.for_budget(self.cfg.max_search_seconds,
                                            *self.time_shares())
    self.train_iter = self.val_iter = None

  def time_shares(self) -> Tuple[float, float]:
    """(warm-up, RL) shares of the time budget before DNAS's window: none, DNAS's
    window is all of it (RADARS gives its earlier stages shares)."""
    return 0.0, 0.0

  @property
  def per_replica_batch(self) -> int:
    return self.state.batch_size // self.strategy.num_replicas_in_sync

  @property
  def elapsed(self) -> float:
    return self.state.seconds + time.time() - self.start

  @property
  def unit_seed(self) -> int:
    return self.cfg.seed + 7919 * (self.state.units + 1)

  # --- what a method defines ---------------------------------------------------

  def next_unit(self) -> Optional[Callable[[], None]]:
    """The next unit for `self.state`, or None when the phase is DONE."""
    raise NotImplementedError

  def finish(self) -> SearchOutcome:
    raise NotImplementedError

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return {}

  def begin(self) -> None:
    """Before the first unit of a new search (not on resume)."""

  def sync(self) -> None:
    """Brings optimizers in line with the current subspace before a save."""

  # --- the loop ------------------------------------------------------------------

  def begin_unit(self) -> None:
    """Seeds everything from (seed, unit) and starts fresh input iterators
    (without tf.data's autotuning thread: see `data.DataSource.dataset`)."""
    seed = self.unit_seed
    tf.keras.utils.set_random_seed(seed)
    source, batch = self.ctx.source, self.state.batch_size
    self.train_iter = iter(source.distributed(self.strategy, "search_train", batch,
                                              True, seed, autotune=False))
    self.val_iter = iter(source.distributed(self.strategy, "search_val", batch,
                                            True, seed + 1, autotune=False))

  def run(self) -> SearchOutcome:
    if self.state.units == 0:
      self.begin()
    while not self.time_is_up():
      unit = self.next_unit()
      if unit is None:
        break
      self.begin_unit()
      try:
        unit()
      except TimeBudgetSpent:
        break
      self.state.units += 1
      self.save()
    if self.time_is_up():
      limit = self.cfg.max_search_seconds
      self.record("time_budget", limit_seconds=limit)
      self.ctx.progress.note(f"search time budget of {limit:.0f} s spent")
    return self.finish()

  def save(self) -> None:
    self.sync()
    self.state.seconds = self.elapsed
    self.start = time.time()
    if self.ctx.checkpoints:
      self.ctx.checkpoints.save(self.variables_to_save(), self.state.to_json())

  def time_is_up(self) -> bool:
    """The search time budget is spent (once a first unit has given an answer)."""
    limit = self.cfg.max_search_seconds
    return bool(limit and self.state.units and self.elapsed >= limit)

  def set_phase(self, phase: Phase) -> None:
    self.state.phase = phase

  # --- helpers every method uses -----------------------------------------------

  def estimate_mb(self, subspace: Subspace) -> float:
    return memory_model.estimate(self.space, subspace, self.input_shape,
                                 self.num_classes, self.per_replica_batch).total_mb

  def record(self, kind: str, **fields) -> None:
    self.state.events.append({"kind": kind, "seconds": round(self.elapsed, 2),
                              **fields})

  def note_score(self, score: float) -> None:
    curve = self.state.best_curve
    curve.append((round(self.elapsed, 2), max(score, curve[-1][1] if curve else -1.0)))

  def measured(self, run: Callable[[], None], owned_variables) -> int:
    """Runs `run()` and records the memory it claims per replica
    (`memory_probe.PeakMeter`, readable as `self.meter` while it runs), also when
    the time budget cuts it (then the TimeBudgetSpent raised carries it as
    `step_peak`)."""
    self.meter = memory_probe.PeakMeter(
        owned_variables, memory_probe.replicas_per_allocator(self.strategy))
    cut = None
    try:
      run()
    except TimeBudgetSpent as e:
      cut = e
    finally:
      step_peak = self.meter.claimed()
      self.meter = None
      self.state.peak_step_bytes = max(self.state.peak_step_bytes, step_peak)
    if cut:
      cut.step_peak = step_peak
      raise cut
    return step_peak

  def penalty(self, choices) -> float:
    return self.objective.penalty(choices)

  def outcome(self, geno, subspace) -> SearchOutcome:
    return SearchOutcome(geno, subspace, self.state.decisions, self.state.events,
                         self.elapsed, self.state.peak_step_bytes,
                         self.estimate_mb(subspace),
                         self.estimate_mb(Subspace.full(self.space)),
                         self.state.best_curve)
