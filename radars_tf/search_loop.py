"""The search methods: RADARS (RL pruning until DNAS fits, then DNAS rounds with RL
pruning between them), and the DNAS, RL and random baselines on the same space,
data and scoring. See the design notes, section "The loop".

A search runs as units (warm-up, one RL phase and its pruning, one DNAS round, one
child...). Each unit starts from a seed derived from the run's seed and the unit's
index, with fresh input iterators and compiled functions, and the state is
checkpointed after it; a run killed mid-unit and resumed redoes that unit and, in
deterministic mode, ends where the uninterrupted run ends.
"""
import dataclasses
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import alphas as alphas_lib
from radars_tf import children, dnas_trainer, memory_model, memory_probe, pruning
from radars_tf import genotype as genotype_lib
from radars_tf.checkpointing import SearchCheckpoints
from radars_tf.config import RunConfig
from radars_tf.data import DataSource
from radars_tf.errors import MemoryBudgetError, UserError
from radars_tf.search_space import SearchSpace, Subspace
from radars_tf.single_path import SinglePathTrainer
from radars_tf.summaries import Progress, Summaries
from radars_tf.supernet import Supernet

MAX_OOM_RETRIES = 3


class SearchFault(UserError):
  """A phase cannot go on (NaN loss, repeated out-of-memory); the last good
  checkpoint is kept."""


class Interrupted(Exception):
  """SIGTERM/SIGINT arrived; the search stopped at a step boundary."""


class TimeBudgetSpent(Exception):
  """--max_search_seconds passed; the search stops at a step boundary and answers
  from what it has."""


@dataclasses.dataclass
class SearchOutcome:
  genotype: genotype_lib.Genotype
  subspace: Subspace
  decisions: List[pruning.PruneDecision]
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
  """Units, state, checkpoints and helpers every method shares."""

  def __init__(self, ctx: SearchContext):
    self.ctx, self.cfg, self.space = ctx, ctx.cfg, ctx.space
    self.strategy = ctx.strategy
    self.input_shape = ctx.source.input_shape
    self.num_classes = ctx.source.spec.num_classes
    self.batch_size = self.cfg.batch_size
    self.budget_mb = self.cfg.budget_mb
    self.decisions: List[pruning.PruneDecision] = []
    self.events: List[dict] = []
    self.best_curve: List[Tuple[float, float]] = []
    self.peak_step_bytes = 0
    self.units = 0
    self.seconds_before = 0.0
    self.start = time.time()
    self.cost = memory_model.cost_matrix(self.space, self.input_shape)
    self.train_iter = self.val_iter = None

  @property
  def per_replica_batch(self) -> int:
    return self.batch_size // self.strategy.num_replicas_in_sync

  @property
  def elapsed(self) -> float:
    return self.seconds_before + time.time() - self.start

  # --- units, state and checkpoints ------------------------------------------

  def next_unit(self) -> Optional[Callable[[], None]]:
    raise NotImplementedError

  def finish(self) -> SearchOutcome:
    raise NotImplementedError

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return {}

  def state(self) -> dict:
    return {"units": self.units, "seconds": self.elapsed,
            "batch_size": self.batch_size,
            "peak_step_bytes": self.peak_step_bytes,
            "decisions": [dataclasses.asdict(d) for d in self.decisions],
            "events": self.events, "best_curve": self.best_curve}

  def load_state(self, state: dict) -> None:
    self.units, self.seconds_before = state["units"], state["seconds"]
    self.batch_size = state["batch_size"]
    self.peak_step_bytes = state["peak_step_bytes"]
    self.decisions = [pruning.PruneDecision(**d) for d in state["decisions"]]
    self.events = state["events"]
    self.best_curve = [tuple(b) for b in state["best_curve"]]

  def resume(self) -> None:
    """Continues from the model dir's last checkpoint, if there is one."""
    if not self.ctx.checkpoints:
      return
    state = self.ctx.checkpoints.load_state()
    if state is None:
      return
    if state.get("method") != self.cfg.method:
      raise UserError(f"the checkpoint belongs to method {state.get('method')}, not "
                      f"{self.cfg.method}; pass --overwrite to start over")
    self.load_state(state)
    self.ctx.checkpoints.restore(self.variables_to_save(), state)
    self.ctx.progress.note(f"resumed after unit {self.units} "
                           f"({self.seconds_before:.0f} s of search done)")

  def sync(self) -> None:
    """Brings optimizers in line with the current subspace before a save."""

  def save(self) -> None:
    self.sync()
    if self.ctx.checkpoints:
      self.ctx.checkpoints.save(self.variables_to_save(),
                                dict(self.state(), method=self.cfg.method))

  @property
  def unit_seed(self) -> int:
    return self.cfg.seed + 7919 * (self.units + 1)

  def begin_unit(self) -> None:
    """Seeds everything from (seed, unit) and starts fresh input iterators."""
    seed = self.unit_seed
    tf.keras.utils.set_random_seed(seed)
    source = self.ctx.source
    self.train_iter = iter(source.distributed(self.strategy, "search_train",
                                              self.batch_size, True, seed))
    self.val_iter = iter(source.distributed(self.strategy, "search_val",
                                            self.batch_size, True, seed + 1))

  def run(self) -> SearchOutcome:
    self.resume()
    while True:
      unit = None if self.time_is_up() else self.next_unit()
      if unit is None:
        break
      self.begin_unit()
      try:
        unit()
      except TimeBudgetSpent:
        break
      self.units += 1
      self.save()
    if self.time_is_up():
      limit = self.cfg.max_search_seconds
      self.record("time_budget", limit_seconds=limit)
      self.ctx.progress.note(f"search time budget of {limit:.0f} s spent")
    return self.finish()

  def time_is_up(self) -> bool:
    """The search time budget is spent (once a first unit has given an answer)."""
    limit = self.cfg.max_search_seconds
    return bool(limit and self.units and self.elapsed >= limit)

  def check_stop(self) -> None:
    """Called at step boundaries: a signal or the spent time budget stops the unit."""
    if self.ctx.stop_requested():
      raise Interrupted()
    if self.time_is_up():
      raise TimeBudgetSpent()

  # --- helpers ---------------------------------------------------------------

  def estimate_mb(self, subspace: Subspace) -> float:
    return memory_model.estimate(self.space, subspace, self.input_shape,
                                 self.num_classes, self.per_replica_batch).total_mb

  def op_memory(self) -> np.ndarray:
    """[layers, candidates] activation elements each op keeps (a memory proxy)."""
    costs = memory_model.layer_costs(self.space, tuple(self.input_shape))
    m = np.full((len(costs), max(len(c) for c in costs)), np.inf)
    for l, row in enumerate(costs):
      m[l, :len(row)] = [c.saved_elems + 1e-6 * c.params for c in row]
    return m

  def check_feasible(self) -> None:
    need = self.estimate_mb(pruning.cheapest_completion(Subspace.full(self.space),
                                                        self.op_memory()))
    if need > self.budget_mb:
      raise MemoryBudgetError(
          f"budget {self.budget_mb:.0f} MB is below what a one-op-per-layer supernet "
          f"needs ({need:.0f} MB at per-replica batch {self.per_replica_batch})")

  def record(self, kind: str, **fields) -> None:
    self.events.append({"kind": kind, "seconds": round(self.elapsed, 2), **fields})

  def note_score(self, score: float) -> None:
    best = max(score, self.best_curve[-1][1] if self.best_curve else -1.0)
    self.best_curve.append((round(self.elapsed, 2), best))

  def measured(self, run: Callable[[], None], owned_variables) -> int:
    """Runs `run()` and records the memory it claims (`memory_probe.claimed_peak`)."""
    stopped = []

    def guarded():
      try:
        run()
      except TimeBudgetSpent as e:
        stopped.append(e)
    step_peak = memory_probe.claimed_peak(guarded, owned_variables)
    self.peak_step_bytes = max(self.peak_step_bytes, step_peak)
    if stopped:
      raise stopped[0]
    return step_peak

  def penalty(self, choices: Sequence[int]) -> float:
    return self.cfg.cost_weight * float(sum(self.cost[l, c]
                                            for l, c in enumerate(choices)))

  def outcome(self, geno, subspace, full_estimate_mb) -> SearchOutcome:
    return SearchOutcome(geno, subspace, self.decisions, self.events, self.elapsed,
                         self.peak_step_bytes, self.estimate_mb(subspace),
                         full_estimate_mb, self.best_curve)


def _check_finite(value: float, where: str) -> None:
  if not np.isfinite(value):
    raise SearchFault(f"non-finite loss ({value}) in {where}; stopped, the last good "
                      "checkpoint is kept (try a lower --w_lr)")


def _mean_entropy(probs: np.ndarray, subspace: Subspace) -> float:
  return float(np.mean([alphas_lib.entropy(probs[i, list(a)][None])[0]
                        for i, a in enumerate(subspace.alive)]))


class SupernetSearch(Search):
  """RADARS and DNAS: a supernet with alphas, and (RADARS) the pruning agent."""

  def __init__(self, ctx: SearchContext, subspace: Optional[Subspace] = None):
    super().__init__(ctx)
    self.full_estimate_mb = self.estimate_mb(Subspace.full(self.space))
    if subspace is None and ctx.checkpoints:
      saved = ctx.checkpoints.load_state()
      if saved and "subspace" in saved:
        subspace = Subspace.from_json(saved["subspace"])
        subspace.check_against(self.space)
    with self.strategy.scope():
      self.net = Supernet(self.space, subspace or Subspace.full(self.space),
                          self.input_shape, self.num_classes)
      self.alphas = alphas_lib.Alphas(self.space, seed=self.cfg.seed)
    self.hp = dnas_trainer.DnasHParams(
        w_lr=self.cfg.w_lr, alpha_lr=self.cfg.alpha_lr, gumbel=self.cfg.gumbel,
        cost_weight=self.cfg.cost_weight)
    self.dnas: Optional[dnas_trainer.DnasTrainer] = None
    self.round = 0
    self.converged_flag = False

  @property
  def subspace(self) -> Subspace:
    return self.net.subspace

  def mask(self) -> np.ndarray:
    return alphas_lib.mask_matrix(self.space, self.subspace)

  def alpha_probs(self) -> np.ndarray:
    return self.alphas.probs(self.mask()).numpy()

  def make_dnas(self) -> None:
    self.dnas = dnas_trainer.DnasTrainer(
        self.net, self.alphas, self.strategy, self.batch_size, self.hp,
        max(1, self.cfg.dnas_rounds) * self.cfg.dnas_steps_per_round, self.cost)

  def sync(self) -> None:
    if self.dnas is not None:
      self.dnas.rebuild()

  def variables_to_save(self) -> Dict[str, tf.Module]:
    objects = {"supernet": self.net, "alphas": self.alphas}
    if self.dnas is not None:
      objects.update(dnas_w_opt=self.dnas.w_opt, dnas_a_opt=self.dnas.a_opt,
                     dnas_step=self.dnas.step_counter)
    return objects

  def state(self) -> dict:
    return dict(super().state(), subspace=self.subspace.to_json(), round=self.round,
                converged=self.converged_flag, has_dnas=self.dnas is not None)

  def load_state(self, state: dict) -> None:
    super().load_state(state)
    self.round, self.converged_flag = state["round"], state["converged"]
    if state["has_dnas"] and self.dnas is None:
      self.make_dnas()

  def log_space(self) -> None:
    sub = self.subspace
    values = {"space/log10_size": sub.log10_size(),
              "space/alive_candidates": sub.num_alive(),
              "memory/estimate_mb": self.estimate_mb(sub),
              "memory/budget_mb": self.budget_mb}
    values.update({f"space/alive/layer_{i:02d}": len(a)
                   for i, a in enumerate(sub.alive)})
    self.ctx.summaries.scalars(self.units, values)

  def dnas_round(self) -> dict:
    """One DNAS round over the current subspace; returns its last metrics."""
    steps = self.cfg.dnas_steps_per_round
    if self.dnas is None:
      self.make_dnas()
    else:
      self.dnas.rebuild()
    self.ctx.progress.phase(
        f"DNAS round {self.round + 1}: {self.subspace.num_alive()} candidates alive, "
        f"estimate {self.estimate_mb(self.subspace):.0f} MB of "
        f"{self.budget_mb:.0f} MB", steps)
    metrics = {}

    def run():
      nonlocal metrics
      for step in range(steps):
        self.check_stop()
        metrics = self.dnas.train_step(self.train_iter, self.val_iter)
        _check_finite(metrics["train_loss"] + metrics["val_loss"],
                      f"DNAS round {self.round + 1}, step {step + 1}")
        self.ctx.progress.update(step + 1, {k: metrics[k] for k in
                                            ("train_loss", "val_acc")})
        if step % max(1, steps // 10) == 0 or step == steps - 1:
          self.ctx.summaries.scalars(int(self.dnas.step_counter.numpy()), {
              "supernet/train_loss": metrics["train_loss"],
              "supernet/train_acc": metrics["train_acc"],
              "supernet/val_loss": metrics["val_loss"],
              "supernet/val_acc": metrics["val_acc"],
              "supernet/temperature": metrics["tau"]})

    owned = (self.net.variables + self.dnas.w_opt.variables + [self.alphas.logits]
             + self.dnas.a_opt.variables)
    peak = self.measured(run, owned)
    probs = self.alpha_probs()
    ent = _mean_entropy(probs, self.subspace)
    self.ctx.summaries.scalars(self.round, {
        "memory/measured_peak_mb": peak / memory_model.MB,
        "memory/estimate_mb": self.estimate_mb(self.subspace),
        "memory/budget_mb": self.budget_mb, "alphas/entropy": ent})
    self.ctx.summaries.image(self.round, "probs/alphas", probs,
                             "alpha softmax per layer (rows) and candidate")
    self.record("dnas_round", round=self.round, peak_mb=peak / memory_model.MB,
                estimate_mb=self.estimate_mb(self.subspace), alpha_entropy=ent,
                **{k: round(v, 4) for k, v in metrics.items()})
    self.round += 1
    return metrics

  def dnas_round_surviving_oom(self) -> None:
    """A ResourceExhaustedError is recorded and answered by shrinking the step
    (`shrink_after_oom`), then the round is tried again."""
    for attempt in range(MAX_OOM_RETRIES + 1):
      try:
        self.dnas_round()
        return
      except tf.errors.ResourceExhaustedError as e:
        if attempt == MAX_OOM_RETRIES:
          raise SearchFault(f"out of memory {attempt + 1} times in DNAS round "
                            f"{self.round + 1}; lower --memory_budget_mb") from e
        how = self.shrink_after_oom()
        self.record("out_of_memory", round=self.round, answer=how,
                    message=str(e).splitlines()[0][:200])
        self.ctx.progress.note(f"out of memory in DNAS round {self.round + 1}: {how}")

  def shrink_after_oom(self) -> str:
    """Halves the batch (the DNAS baseline has nothing it may prune)."""
    if self.batch_size // 2 < self.strategy.num_replicas_in_sync:
      raise SearchFault("out of memory at the smallest batch")
    self.batch_size //= 2
    self.make_dnas()
    self.begin_unit()
    return f"batch halved to {self.batch_size}"

  def converged(self) -> bool:
    return len(alphas_lib.confident_layers(
        self.alpha_probs(), self.subspace, self.cfg.converge_threshold)) == len(
            self.subspace.alive)

  def apply(self, subspace: Subspace, decisions) -> None:
    self.net.apply_subspace(subspace)
    self.decisions.extend(decisions)
    for d in decisions:
      self.ctx.summaries.text(d.round, "pruning/decisions", _decision_markdown(d))
    self.log_space()


class RadarsSearch(SupernetSearch):
  """RL prunes until the DNAS estimate fits; then DNAS rounds with RL pruning."""

  def __init__(self, ctx: SearchContext):
    super().__init__(ctx)
    self.paths = SinglePathTrainer(self.net, self.strategy, self.batch_size,
                                   self.cfg.w_lr, self.cfg.seed,
                                   self.cfg.single_path_compiled)
    self.agent = agent_lib.ArchitectureAgent(
        self.mask(), self.reward, self.cfg.agent_lr, self.cfg.entropy_weight,
        self.cfg.episodes_per_iteration)
    self.rl_phase_index = 0
    self.agent_step = 0
    self.warm = False

  def sync(self) -> None:
    super().sync()
    self.paths.rebuild()

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return dict(super().variables_to_save(), path_opt=self.paths.opt,
                **self.agent.variables_to_save())

  def state(self) -> dict:
    return dict(super().state(), rl_phase=self.rl_phase_index,
                agent_step=self.agent_step, warm=self.warm)

  def load_state(self, state: dict) -> None:
    super().load_state(state)
    self.rl_phase_index, self.agent_step = state["rl_phase"], state["agent_step"]
    self.warm = state["warm"]

  def begin_unit(self) -> None:
    super().begin_unit()
    # The optimizer and mask follow the subspace in `sync()` and `rl_phase()`.
    self.paths.rng = np.random.default_rng(self.unit_seed)
    self.agent.reset_sampling()

  def reward(self, choices: Sequence[int]) -> float:
    acc = self.paths.score(self.val_iter, choices, self.cfg.score_batches)
    self.note_score(acc)
    return acc - self.penalty(choices)

  def next_unit(self) -> Optional[Callable[[], None]]:
    if self.units == 0:
      self.check_feasible()
      self.log_space()
    if not self.warm:
      return self.warmup
    if self.estimate_mb(self.subspace) > self.budget_mb:
      if self.rl_phase_index >= self.cfg.rl_phases_max:
        raise MemoryBudgetError(
            f"radars: after {self.rl_phase_index} RL phases the subspace still needs "
            f"{self.estimate_mb(self.subspace):.0f} MB, budget {self.budget_mb:.0f} MB "
            "(raise --rl_phases_max or --prune_fraction)")
      return self.rl_prune_unit
    if self.round < self.cfg.dnas_rounds and not self.converged_flag:
      return self.dnas_unit
    return None

  def warmup(self) -> None:
    """Shared weights trained on uniformly sampled paths, so that the first rewards
    tell architectures apart (TuNAS/SPOS warm up the same way)."""
    steps = self.cfg.warmup_steps
    if steps:
      self.ctx.progress.phase(f"warm-up: {steps} shared-weight steps on random "
                              "paths", steps)

      def on_step(i, loss):
        self.check_stop()
        _check_finite(loss, f"warm-up step {i + 1}")
        self.ctx.progress.update(i + 1, {"loss": loss})
      loss = self.paths.train(self.train_iter, steps, on_step)
      self.record("warmup", steps=steps, loss=loss)
    self.warm = True

  def rl_phase(self) -> List[Tuple[Tuple[int, ...], float]]:
    """Shared weights trained on sampled paths, then the agent, in turns."""
    self.paths.rebuild()                    # follow any pruning since the unit began
    self.agent.set_mask(self.mask())
    iters = self.cfg.rl_iterations_per_phase
    self.ctx.progress.phase(
        f"RL phase {self.rl_phase_index + 1}: log10 size "
        f"{self.subspace.log10_size():.1f}, estimate "
        f"{self.estimate_mb(self.subspace):.0f} MB of {self.budget_mb:.0f} MB", iters)
    samples = []
    for it in range(iters):
      self.check_stop()
      loss = self.paths.train(self.train_iter, self.cfg.path_train_steps)
      _check_finite(loss, f"RL phase {self.rl_phase_index + 1}")
      batch, agent_loss = self.agent.iteration()
      samples.extend(batch)
      rewards = np.array([r for _, r in batch])
      ent = _mean_entropy(self.agent.probs(), self.subspace)
      self.ctx.summaries.scalars(self.agent_step, {
          "agent/reward_mean": rewards.mean(), "agent/reward_std": rewards.std(),
          "agent/reward_max": rewards.max(), "agent/loss": agent_loss,
          "agent/policy_entropy": ent, "supernet/path_loss": loss})
      self.agent_step += 1
      self.ctx.progress.update(it + 1, {"reward": float(rewards.mean()),
                                        "entropy": ent})
    self.ctx.summaries.image(self.rl_phase_index, "probs/policy", self.agent.probs(),
                             "policy probability per layer (rows) and candidate")
    self.record("rl_phase", phase=self.rl_phase_index,
                reward_mean=float(np.mean([r for _, r in samples])),
                log10_size=self.subspace.log10_size())
    self.rl_phase_index += 1
    return samples

  def rl_prune_unit(self) -> None:
    samples = self.rl_phase()
    rewards = pruning.reward_table(self.mask().shape, samples)
    sub, decisions = pruning.prune_to_fit(
        self.space, self.subspace, self.agent.probs(), rewards, self.estimate_mb,
        self.budget_mb, self.cfg.prune_fraction, self.rl_phase_index - 1,
        self.op_memory())
    if not decisions:
      raise MemoryBudgetError(
          f"radars: nothing left to prune, the subspace needs "
          f"{self.estimate_mb(sub):.0f} MB, budget {self.budget_mb:.0f} MB")
    self.apply(sub, decisions)
    self.ctx.progress.note(
        f"pruned {len(decisions)}: log10 size {sub.log10_size():.1f}, estimate "
        f"{self.estimate_mb(sub):.0f} MB, budget {self.budget_mb:.0f} MB")

  def prune_between_rounds(self) -> None:
    sub, decisions = pruning.prune_between_rounds(
        self.space, self.subspace, self.alpha_probs(), self.agent.probs(),
        self.estimate_mb, self.budget_mb, self.cfg.dnas_prune_fraction,
        max(0, self.round - 1))
    self.apply(sub, decisions)

  def shrink_after_oom(self) -> str:
    self.prune_between_rounds()
    return f"pruned to {self.subspace.num_alive()} candidates"

  def dnas_unit(self) -> None:
    self.dnas_round_surviving_oom()
    if self.converged():
      self.converged_flag = True
      return
    self.rl_phase()
    self.prune_between_rounds()

  def finish(self) -> SearchOutcome:
    probs = self.alpha_probs() if self.round else self.agent.probs()
    geno = genotype_lib.derive(self.space, self.subspace, probs, self.agent.probs())
    return self.outcome(geno, self.subspace, self.full_estimate_mb)


class DnasSearch(SupernetSearch):
  """DNAS over the full space, if it fits the budget."""

  def __init__(self, ctx: SearchContext):
    need = memory_model.estimate(
        ctx.space, Subspace.full(ctx.space), ctx.source.input_shape,
        ctx.source.spec.num_classes,
        ctx.cfg.batch_size // ctx.strategy.num_replicas_in_sync).total_mb
    if need > ctx.cfg.budget_mb:
      raise MemoryBudgetError(f"dnas: the full supernet needs {need:.0f} MB, "
                              f"budget {ctx.cfg.budget_mb:.0f} MB")
    super().__init__(ctx)

  def next_unit(self) -> Optional[Callable[[], None]]:
    if self.units == 0:
      self.log_space()
    return self.dnas_round_surviving_oom if self.round < max(
        1, self.cfg.dnas_rounds) else None

  def finish(self) -> SearchOutcome:
    geno = genotype_lib.derive(self.space, self.subspace, self.alpha_probs())
    return self.outcome(geno, self.subspace, self.full_estimate_mb)


class ChildSearch(Search):
  """RL (the agent samples) or random sampling; every child trained from scratch
  for a few steps and scored; the best child wins. A unit is one agent iteration
  (rl) or one child (random)."""

  def __init__(self, ctx: SearchContext, use_agent: bool):
    super().__init__(ctx)
    self.use_agent = use_agent
    self.full = Subspace.full(self.space)
    self.samples: List[Tuple[Tuple[int, ...], float]] = []
    mask = alphas_lib.mask_matrix(self.space, self.full)
    self.agent = agent_lib.ArchitectureAgent(
        mask, self.score, self.cfg.agent_lr, self.cfg.entropy_weight,
        self.cfg.episodes_per_iteration) if use_agent else None
    self.per_unit = self.cfg.episodes_per_iteration if use_agent else 1

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return self.agent.variables_to_save() if self.agent else {}

  def state(self) -> dict:
    return dict(super().state(), samples=[[list(c), r] for c, r in self.samples])

  def load_state(self, state: dict) -> None:
    super().load_state(state)
    self.samples = [(tuple(c), r) for c, r in state["samples"]]

  def begin_unit(self) -> None:
    super().begin_unit()
    if self.agent:
      self.agent.reset_sampling()

  def score(self, choices: Sequence[int]) -> float:
    self.check_stop()
    evaluator = children.ChildEvaluator(
        self.space, self.input_shape, self.num_classes, self.strategy,
        self.batch_size, self.cfg.child_train_steps, self.cfg.w_lr,
        self.cfg.score_batches, self.train_iter, self.val_iter)
    acc = [0.0]

    def run():
      acc[0] = evaluator(choices)
    self.measured(run, [])
    _check_finite(acc[0], "child scoring")
    self.note_score(acc[0])
    self.samples.append((tuple(int(c) for c in choices), acc[0]))
    self.ctx.progress.update(len(self.samples), {"val_acc": acc[0]})
    self.ctx.summaries.scalars(len(self.samples), {
        "children/val_acc": acc[0], "children/best_val_acc": self.best_curve[-1][1]})
    return acc[0] - self.penalty(choices)

  def next_unit(self) -> Optional[Callable[[], None]]:
    n = self.cfg.child_samples
    if self.units == 0:
      self.ctx.progress.phase(f"{self.cfg.method}: {n} children, each trained "
                              f"{self.cfg.child_train_steps} steps from scratch", n)
    if len(self.samples) >= n:
      return None
    if self.agent:
      return self.agent.iteration
    return lambda: self.score([int(np.random.choice(a)) for a in self.full.alive])

  def finish(self) -> SearchOutcome:
    best_choices, best = max(self.samples, key=lambda s: s[1])
    self.record("children", samples=len(self.samples), best_val_acc=best)
    if self.agent:
      self.ctx.summaries.image(0, "probs/policy", self.agent.probs())
    geno = genotype_lib.from_choices(self.space, best_choices)
    return self.outcome(geno, self.full, self.estimate_mb(self.full))


def _decision_markdown(d: pruning.PruneDecision) -> str:
  reward = "n/a" if d.mean_reward is None else f"{d.mean_reward:.3f}"
  alpha = "n/a" if d.alpha_prob is None else f"{d.alpha_prob:.3f}"
  return (f"round {d.round} ({d.phase}): layer {d.layer} drops `{d.op}` "
          f"(policy p={d.policy_prob:.3f}, mean reward {reward}, alpha p={alpha}); "
          f"estimate {d.estimate_before_mb:.0f} -> {d.estimate_after_mb:.0f} MB, "
          f"budget {d.budget_mb:.0f} MB, log10 size {d.log10_size_after:.2f}")


def make_search(ctx: SearchContext) -> Search:
  method = ctx.cfg.method
  if method == "radars":
    return RadarsSearch(ctx)
  if method == "dnas":
    return DnasSearch(ctx)
  return ChildSearch(ctx, use_agent=method == "rl")


def run_search(ctx: SearchContext) -> SearchOutcome:
  return make_search(ctx).run()
