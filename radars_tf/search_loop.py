"""The search methods: RADARS (RL pruning until DNAS fits, then DNAS rounds with RL
pruning between them), and the DNAS, RL and random baselines on the same space,
data and scoring. See the design notes, section "The loop"."""
import dataclasses
import math
import time
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import alphas as alphas_lib
from radars_tf import children, dnas_trainer, memory_model, memory_probe, pruning
from radars_tf import genotype as genotype_lib
from radars_tf.config import RunConfig
from radars_tf.data import DataSource
from radars_tf.errors import MemoryBudgetError
from radars_tf.search_space import SearchSpace, Subspace
from radars_tf.single_path import SinglePathTrainer
from radars_tf.summaries import Progress, Summaries
from radars_tf.supernet import Supernet


@dataclasses.dataclass
class SearchOutcome:
  genotype: genotype_lib.Genotype
  subspace: Subspace
  decisions: List[pruning.PruneDecision]
  events: List[dict]
  search_seconds: float
  peak_step_bytes: int            # measured, see `Search.measured`
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


class Search:
  """State and helpers every method shares."""

  def __init__(self, ctx: SearchContext):
    self.ctx, self.cfg, self.space = ctx, ctx.cfg, ctx.space
    self.strategy = ctx.strategy
    self.input_shape = ctx.source.input_shape
    self.num_classes = ctx.source.spec.num_classes
    replicas = self.strategy.num_replicas_in_sync
    self.per_replica_batch = self.cfg.batch_size // replicas
    self.budget_mb = self.cfg.budget_mb
    self.decisions: List[pruning.PruneDecision] = []
    self.events: List[dict] = []
    self.best_curve: List[Tuple[float, float]] = []
    self.peak_step_bytes = 0
    self.start = time.time()
    self.cost = memory_model.cost_matrix(self.space, self.input_shape)
    self.train_iter = iter(ctx.source.distributed(self.strategy, "search_train",
                                                  self.cfg.batch_size, True))
    self.val_iter = iter(ctx.source.distributed(self.strategy, "search_val",
                                                self.cfg.batch_size, True))

  def estimate_mb(self, subspace: Subspace) -> float:
    return memory_model.estimate(self.space, subspace, self.input_shape,
                                 self.num_classes, self.per_replica_batch).total_mb

  def cheapest_subspace(self) -> Subspace:
    full = Subspace.full(self.space)
    costs = memory_model.layer_costs(self.space, self.input_shape)
    return Subspace(tuple((min(a, key=lambda i, c=c: (c[i].saved_elems, c[i].params)),)
                          for a, c in zip(full.alive, costs)))

  def check_feasible(self) -> None:
    need = self.estimate_mb(self.cheapest_subspace())
    if need > self.budget_mb:
      raise MemoryBudgetError(
          f"budget {self.budget_mb:.0f} MB is below what a one-op-per-layer supernet "
          f"needs ({need:.0f} MB at per-replica batch {self.per_replica_batch})")

  def record(self, kind: str, **fields) -> None:
    event = {"kind": kind, "seconds": round(time.time() - self.start, 2), **fields}
    self.events.append(event)

  def note_score(self, score: float) -> None:
    best = max(score, self.best_curve[-1][1] if self.best_curve else -1.0)
    self.best_curve.append((round(time.time() - self.start, 2), best))

  def measured(self, run: Callable[[], None], owned_variables) -> int:
    """Runs `run()` and records the memory it claims (`memory_probe.claimed_peak`)."""
    step_peak = memory_probe.claimed_peak(run, owned_variables)
    self.peak_step_bytes = max(self.peak_step_bytes, step_peak)
    return step_peak

  def outcome(self, geno, subspace, full_estimate_mb) -> SearchOutcome:
    return SearchOutcome(geno, subspace, self.decisions, self.events,
                         time.time() - self.start, self.peak_step_bytes,
                         self.estimate_mb(subspace), full_estimate_mb,
                         self.best_curve)


class SupernetSearch(Search):
  """RADARS and DNAS: a supernet with alphas, and (RADARS) the pruning agent."""

  def __init__(self, ctx: SearchContext):
    super().__init__(ctx)
    self.full_estimate_mb = self.estimate_mb(Subspace.full(self.space))
    with self.strategy.scope():
      self.net = Supernet(self.space, Subspace.full(self.space), self.input_shape,
                          self.num_classes)
      self.alphas = alphas_lib.Alphas(self.space, seed=self.cfg.seed)
    self.hp = dnas_trainer.DnasHParams(
        w_lr=self.cfg.w_lr, alpha_lr=self.cfg.alpha_lr, gumbel=self.cfg.gumbel,
        cost_weight=self.cfg.cost_weight)
    self.dnas: Optional[dnas_trainer.DnasTrainer] = None
    self.round = 0

  @property
  def subspace(self) -> Subspace:
    return self.net.subspace

  def mask(self) -> np.ndarray:
    return alphas_lib.mask_matrix(self.space, self.subspace)

  def alpha_probs(self) -> np.ndarray:
    return self.alphas.probs(self.mask()).numpy()

  def log_space(self, step: int) -> None:
    sub = self.subspace
    values = {"space/log10_size": sub.log10_size(),
              "space/alive_candidates": sub.num_alive(),
              "memory/estimate_mb": self.estimate_mb(sub),
              "memory/budget_mb": self.budget_mb}
    values.update({f"space/alive/layer_{i:02d}": len(a)
                   for i, a in enumerate(sub.alive)})
    self.ctx.summaries.scalars(step, values)

  def dnas_round(self) -> dict:
    """One DNAS round over the current subspace; returns its last metrics."""
    steps = self.cfg.dnas_steps_per_round
    if self.dnas is None:
      self.dnas = dnas_trainer.DnasTrainer(
          self.net, self.alphas, self.strategy, self.cfg.batch_size, self.hp,
          max(1, self.cfg.dnas_rounds) * steps, self.cost)
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
        metrics = self.dnas.train_step(self.train_iter, self.val_iter)
        self.ctx.progress.update(step + 1, {k: metrics[k] for k in
                                            ("train_loss", "val_acc")})
        global_step = int(self.dnas.step_counter.numpy())
        if step % max(1, steps // 10) == 0 or step == steps - 1:
          self.ctx.summaries.scalars(global_step, {
              "supernet/train_loss": metrics["train_loss"],
              "supernet/train_acc": metrics["train_acc"],
              "supernet/val_loss": metrics["val_loss"],
              "supernet/val_acc": metrics["val_acc"],
              "supernet/temperature": metrics["tau"]})

    owned = (self.net.variables + self.dnas.w_opt.variables + [self.alphas.logits]
             + self.dnas.a_opt.variables)
    peak = self.measured(run, owned)
    probs = self.alpha_probs()
    ent = float(np.mean([alphas_lib.entropy(probs[i, list(a)][None])[0]
                         for i, a in enumerate(self.subspace.alive)]))
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

  def converged(self) -> bool:
    return len(alphas_lib.confident_layers(
        self.alpha_probs(), self.subspace, self.cfg.converge_threshold)) == len(
            self.subspace.alive)

  def apply(self, subspace: Subspace, decisions) -> None:
    self.net.apply_subspace(subspace)
    self.decisions.extend(decisions)
    for d in decisions:
      self.ctx.summaries.text(d.round, "pruning/decisions",
                              _decision_markdown(d))


class RadarsSearch(SupernetSearch):
  """RL prunes until the DNAS estimate fits; then DNAS rounds with RL pruning."""

  def __init__(self, ctx: SearchContext):
    super().__init__(ctx)
    self.paths = SinglePathTrainer(self.net, self.strategy, self.cfg.batch_size,
                                   self.cfg.w_lr, self.cfg.seed)
    self.agent = agent_lib.ArchitectureAgent(
        self.mask(), self.reward, self.cfg.agent_lr, self.cfg.entropy_weight,
        self.cfg.episodes_per_iteration)
    self.rl_phase_index = 0
    self.agent_step = 0

  def reward(self, choices: Sequence[int]) -> float:
    acc = self.paths.score(self.val_iter, choices, self.cfg.score_batches)
    self.note_score(acc)
    penalty = self.cfg.cost_weight * float(sum(self.cost[l, c]
                                               for l, c in enumerate(choices)))
    return acc - penalty

  def rl_phase(self) -> List[Tuple[Tuple[int, ...], float]]:
    """Shared weights trained on sampled paths, then the agent, in turns."""
    self.paths.rebuild()
    self.agent.set_mask(self.mask())
    iters = self.cfg.rl_iterations_per_phase
    self.ctx.progress.phase(
        f"RL phase {self.rl_phase_index + 1}: log10 size "
        f"{self.subspace.log10_size():.1f}, estimate "
        f"{self.estimate_mb(self.subspace):.0f} MB of {self.budget_mb:.0f} MB", iters)
    samples = []
    for it in range(iters):
      loss = self.paths.train(self.train_iter, self.cfg.path_train_steps)
      batch, agent_loss = self.agent.iteration()
      samples.extend(batch)
      rewards = np.array([r for _, r in batch])
      probs = self.agent.probs()
      ent = float(np.mean([alphas_lib.entropy(probs[i, list(a)][None])[0]
                           for i, a in enumerate(self.subspace.alive)]))
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

  def warmup(self) -> None:
    """Shared weights trained on uniformly sampled paths, so that the first rewards
    tell architectures apart (TuNAS/SPOS warm up the same way)."""
    steps = self.cfg.warmup_steps
    if not steps:
      return
    self.ctx.progress.phase(f"warm-up: {steps} shared-weight steps on random paths",
                            steps)
    loss = self.paths.train(self.train_iter, steps, on_step=lambda i, l:
                            self.ctx.progress.update(i + 1, {"loss": l}))
    self.record("warmup", steps=steps, loss=loss)

  def run(self) -> SearchOutcome:
    self.check_feasible()
    self.log_space(0)
    self.warmup()
    step = 0
    while self.estimate_mb(self.subspace) > self.budget_mb:
      if self.rl_phase_index >= self.cfg.rl_phases_max:
        raise MemoryBudgetError(
            f"radars: after {self.rl_phase_index} RL phases the subspace still needs "
            f"{self.estimate_mb(self.subspace):.0f} MB, budget {self.budget_mb:.0f} MB "
            "(raise --rl_phases_max or --prune_fraction)")
      samples = self.rl_phase()
      rewards = pruning.reward_table(self.mask().shape, samples)
      sub, decisions = pruning.prune_to_fit(
          self.space, self.subspace, self.agent.probs(), rewards, self.estimate_mb,
          self.budget_mb, self.cfg.prune_fraction, self.rl_phase_index - 1)
      self.apply(sub, decisions)
      step += 1
      self.log_space(step)
      self.ctx.progress.note(
          f"pruned {len(decisions)}: log10 size {sub.log10_size():.1f}, estimate "
          f"{self.estimate_mb(sub):.0f} MB, budget {self.budget_mb:.0f} MB")
    for _ in range(self.cfg.dnas_rounds):
      self.dnas_round()
      if self.converged():
        break
      self.rl_phase()
      sub, decisions = pruning.prune_between_rounds(
          self.space, self.subspace, self.alpha_probs(), self.agent.probs(),
          self.estimate_mb, self.budget_mb, self.cfg.dnas_prune_fraction,
          self.round - 1)
      self.apply(sub, decisions)
      step += 1
      self.log_space(step)
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

  def run(self) -> SearchOutcome:
    self.log_space(0)
    for _ in range(max(1, self.cfg.dnas_rounds)):
      self.dnas_round()
    geno = genotype_lib.derive(self.space, self.subspace, self.alpha_probs())
    return self.outcome(geno, self.subspace, self.full_estimate_mb)


class ChildSearch(Search):
  """RL (the agent samples) or random sampling; every child trained from scratch
  for a few steps and scored; the best child wins."""

  def __init__(self, ctx: SearchContext, use_agent: bool):
    super().__init__(ctx)
    self.use_agent = use_agent
    self.evaluator = children.ChildEvaluator(
        self.space, self.input_shape, self.num_classes, self.strategy,
        self.cfg.batch_size, self.cfg.child_train_steps, self.cfg.w_lr,
        self.cfg.score_batches, self.train_iter, self.val_iter)
    self.full = Subspace.full(self.space)
    self.samples: List[Tuple[Tuple[int, ...], float]] = []
    self.rng = np.random.default_rng(self.cfg.seed)

  def score(self, choices: Sequence[int]) -> float:
    peak = [0.0]

    def run():
      peak[0] = self.evaluator(choices)
    self.measured(run, [])
    acc = peak[0]
    self.note_score(acc)
    self.ctx.progress.update(len(self.samples) + 1, {"val_acc": acc})
    self.samples.append((tuple(int(c) for c in choices), acc))
    self.ctx.summaries.scalars(len(self.samples), {
        "children/val_acc": acc, "children/best_val_acc": self.best_curve[-1][1]})
    penalty = self.cfg.cost_weight * float(sum(self.cost[l, c]
                                               for l, c in enumerate(choices)))
    return acc - penalty

  def run(self) -> SearchOutcome:
    n = self.cfg.child_samples
    self.ctx.progress.phase(f"{self.cfg.method}: {n} children, each trained "
                            f"{self.cfg.child_train_steps} steps from scratch", n)
    mask = alphas_lib.mask_matrix(self.space, self.full)
    if self.use_agent:
      agent = agent_lib.ArchitectureAgent(mask, self.score, self.cfg.agent_lr,
                                          self.cfg.entropy_weight,
                                          self.cfg.episodes_per_iteration)
      for _ in range(math.ceil(n / self.cfg.episodes_per_iteration)):
        agent.iteration()
      self.ctx.summaries.image(0, "probs/policy", agent.probs())
    else:
      for _ in range(n):
        self.score([self.rng.choice(a) for a in self.full.alive])
    best_choices, best = max(self.samples, key=lambda s: s[1])
    self.record("children", samples=len(self.samples), best_val_acc=best)
    geno = genotype_lib.from_choices(self.space, best_choices)
    return self.outcome(geno, self.full, memory_model.estimate(
        self.space, self.full, self.input_shape, self.num_classes,
        self.per_replica_batch).total_mb)


def _decision_markdown(d: pruning.PruneDecision) -> str:
  reward = "n/a" if d.mean_reward is None else f"{d.mean_reward:.3f}"
  alpha = "n/a" if d.alpha_prob is None else f"{d.alpha_prob:.3f}"
  return (f"round {d.round} ({d.phase}): layer {d.layer} drops `{d.op}` "
          f"(policy p={d.policy_prob:.3f}, mean reward {reward}, alpha p={alpha}); "
          f"estimate {d.estimate_before_mb:.0f} -> {d.estimate_after_mb:.0f} MB, "
          f"budget {d.budget_mb:.0f} MB, log10 size {d.log10_size_after:.2f}")


def run_search(ctx: SearchContext) -> SearchOutcome:
  method = ctx.cfg.method
  if method == "radars":
    return RadarsSearch(ctx).run()
  if method == "dnas":
    return DnasSearch(ctx).run()
  return ChildSearch(ctx, use_agent=method == "rl").run()
