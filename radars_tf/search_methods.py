"""The search methods as thin runners over the phases: radars (RL phase until the
DNAS estimate fits, then DNAS rounds with RL pruning between them), dnas, rl and
random; and `make_search`, the one factory that builds a method from a saved state.
"""
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import children, memory_model
from radars_tf import genotype as genotype_lib
from radars_tf.dnas_phase import DnasPhase
from radars_tf.errors import MemoryBudgetError, UserError
from radars_tf.pruning import PruneDecision
from radars_tf.rl_phase import RlPhase
from radars_tf.search_loop import Search, SearchContext, SearchOutcome
from radars_tf.search_space import Subspace
from radars_tf.search_state import Phase, SearchState
from radars_tf.step_reporter import SearchFault
from radars_tf.supernet import Supernet


class SupernetSearch(Search):
  """What radars and dnas share: the supernet over the state's subspace, its DNAS
  phase, and applying pruning decisions."""

  def __init__(self, ctx: SearchContext, state: SearchState):
    super().__init__(ctx, state)
    with self.strategy.scope():
      self.net = Supernet(self.space, state.subspace, self.input_shape,
                          self.num_classes)
    self.dnas = DnasPhase(self, self.net)

  @property
  def subspace(self) -> Subspace:
    return self.net.subspace

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return dict(supernet=self.net, **self.dnas.variables_to_save())

  def sync(self) -> None:
    self.dnas.sync()

  def save(self) -> None:
    self.state.subspace = self.subspace
    super().save()

  def begin(self) -> None:
    self.log_space()

  def log_space(self) -> None:
    sub = self.subspace
    values = {"space/log10_size": sub.log10_size(),
              "space/alive_candidates": sub.num_alive(),
              "memory/estimate_mb": self.estimate_mb(sub),
              "memory/budget_mb": self.cfg.budget_mb}
    values.update({f"space/alive/layer_{i:02d}": len(a)
                   for i, a in enumerate(sub.alive)})
    self.ctx.summaries.scalars(self.state.units, values)

  def apply(self, subspace: Subspace, decisions) -> None:
    self.net.apply_subspace(subspace)
    self.state.decisions.extend(decisions)
    for d in decisions:
      self.ctx.summaries.text(d.round, "pruning/decisions", _decision_markdown(d))
    self.log_space()

  def halve_batch(self) -> str:
    """The answer to out-of-memory when nothing may be pruned."""
    if self.state.batch_size // 2 < self.strategy.num_replicas_in_sync:
      raise SearchFault("out of memory at the smallest batch")
    self.state.batch_size //= 2
    self.dnas.make_trainer()
    self.begin_unit()
    return f"batch halved to {self.state.batch_size}"


class RadarsSearch(SupernetSearch):
  """RL phases prune until the DNAS estimate fits; then DNAS rounds with RL
  pruning between them, until every layer is decided or the rounds are spent."""

  def __init__(self, ctx: SearchContext, state: Optional[SearchState] = None):
    super().__init__(ctx, state or new_state(ctx))
    self.rl = RlPhase(self, self.net)
    self.dnas.between_rounds = lambda: self.rl.iteration_seconds

  def time_shares(self) -> Tuple[float, float]:
    return self.cfg.warmup_time_share, self.cfg.rl_time_share

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return dict(super().variables_to_save(), **self.rl.variables_to_save())

  def sync(self) -> None:
    super().sync()
    self.rl.sync()

  def begin(self) -> None:
    floor = self.estimate_mb(memory_model.cheapest_completion(
        Subspace.full(self.space), memory_model.op_memory(self.space,
                                                          self.input_shape)))
    if floor > self.cfg.budget_mb:
      raise MemoryBudgetError(
          f"budget {self.cfg.budget_mb:.0f} MB is below what a one-op-per-layer "
          f"supernet needs ({floor:.0f} MB at per-replica batch "
          f"{self.per_replica_batch})")
    super().begin()

  def begin_unit(self) -> None:
    super().begin_unit()
    self.rl.begin_unit(self.unit_seed)

  def next_unit(self) -> Optional[Callable[[], None]]:
    phase = self.state.phase
    if phase is Phase.WARMUP:
      return self.warmup_unit
    if phase is Phase.RL:
      if self.state.rl_phases >= self.cfg.rl_phases_max:
        raise MemoryBudgetError(
            f"radars: after {self.state.rl_phases} RL phases the subspace still "
            f"needs {self.estimate_mb(self.subspace):.0f} MB, budget "
            f"{self.cfg.budget_mb:.0f} MB (raise --rl_phases_max, or lower "
            "--prune_confidence or --max_samples)")
      return self.rl_prune_unit
    if phase is Phase.DNAS:
      return self.dnas_unit
    return None

  def after_pruning(self) -> None:
    """RL until the estimate fits, then DNAS while rounds are left."""
    if self.estimate_mb(self.subspace) > self.cfg.budget_mb:
      self.set_phase(Phase.RL)
    elif self.state.dnas_rounds < self.cfg.dnas_rounds:
      self.set_phase(Phase.DNAS)
    else:
      self.set_phase(Phase.DONE)

  def warmup_unit(self) -> None:
    self.rl.warmup()
    self.after_pruning()

  def rl_prune_unit(self) -> None:
    """An RL phase, then pruning on the evidence of all phases so far (none when
    the evidence condemns no candidate yet: the next phase collects more)."""
    self.rl.run(to_deadline=True)
    deadline = self.schedule.rl_over(self.elapsed)
    sub, decisions = self.rl.prune_to_fit(deadline)
    if deadline:
      self.record("rl_deadline", pruned=len(decisions))
    self.apply(sub, decisions)
    why = "at the RL deadline, evidence ranked" if deadline else "on evidence"
    bests = sum(d.best_given_up for d in decisions)
    if bests:
      why += (f" ({bests} of them their layer's best: the bests together exceeded "
              "the budget)")
    self.ctx.progress.note(
        f"pruned {len(decisions)} {why}: log10 size {sub.log10_size():.1f}, "
        f"estimate {self.estimate_mb(sub):.0f} MB, budget {self.cfg.budget_mb:.0f} MB")
    self.after_pruning()

  def prune_between_rounds(self, at_least_one: bool = False) -> str:
    self.apply(*self.rl.prune_between_rounds(self.dnas.alpha_probs(),
                                             max(0, self.state.dnas_rounds - 1),
                                             at_least_one))
    return f"pruned to {self.subspace.num_alive()} candidates"

  def shrink(self) -> str:
    """The answer to a round out of memory: prune at least one candidate, or,
    once every layer holds one, halve the batch (a retry of the same step would
    measure the same)."""
    if self.subspace.num_alive() > len(self.subspace.alive):
      return self.prune_between_rounds(True)
    return self.halve_batch()

  def dnas_unit(self) -> None:
    if not self.dnas.round_fits():
      self.set_phase(Phase.DONE)
      return
    self.dnas.round_surviving_oom(self.shrink)
    if (self.dnas.converged()
        or not self.dnas.round_fits(after_between=True)):
      self.set_phase(Phase.DONE)
      return
    self.rl.run()
    self.prune_between_rounds()
    if self.state.dnas_rounds >= self.cfg.dnas_rounds:
      self.set_phase(Phase.DONE)

  def finish(self) -> SearchOutcome:
    policy = self.rl.agent.probs()
    probs = self.dnas.alpha_probs() if self.state.dnas_rounds else policy
    geno = genotype_lib.derive(self.space, self.subspace, probs, policy)
    return self.outcome(geno, self.subspace)


class DnasSearch(SupernetSearch):
  """DNAS over the full space, if it fits the budget."""

  def __init__(self, ctx: SearchContext, state: Optional[SearchState] = None):
    super().__init__(ctx, state or new_state(ctx))

  def next_unit(self) -> Optional[Callable[[], None]]:
    return self.dnas_unit if self.state.phase is Phase.DNAS else None

  def dnas_unit(self) -> None:
    if not self.dnas.round_fits():
      self.set_phase(Phase.DONE)
      return
    self.dnas.round_surviving_oom(self.halve_batch)
    if self.state.dnas_rounds >= self.cfg.dnas_rounds:
      self.set_phase(Phase.DONE)

  def finish(self) -> SearchOutcome:
    geno = genotype_lib.derive(self.space, self.subspace, self.dnas.alpha_probs())
    return self.outcome(geno, self.subspace)


class ChildSearch(Search):
  """RL (the agent samples) or random sampling; every child trained from scratch
  for a few steps and scored; the best child wins. A unit is one agent iteration
  (rl) or one child (random)."""

  def __init__(self, ctx: SearchContext, state: Optional[SearchState] = None):
    super().__init__(ctx, state or new_state(ctx))
    self.full = Subspace.full(self.space)
    self.agent = agent_lib.ArchitectureAgent(
        self.full.mask(self.space), self.score, self.cfg.agent_lr,
        self.cfg.entropy_weight, self.cfg.children_per_update
    ) if self.cfg.method == "rl" else None

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return self.agent.variables_to_save() if self.agent else {}

  def begin(self) -> None:
    self.ctx.progress.phase(
        f"{self.cfg.method}: {self.cfg.child_samples} children, each trained "
        f"{self.cfg.child_train_steps} steps from scratch", self.cfg.child_samples)

  def begin_unit(self) -> None:
    super().begin_unit()
    if self.agent:
      self.agent.reset_sampling()

  def score(self, choices) -> float:
    self.reporter.check_stop()
    evaluator = children.ChildEvaluator(
        self.space, self.input_shape, self.num_classes, self.strategy,
        self.state.batch_size, self.cfg.child_train_steps, self.cfg.w_lr,
        self.cfg.score_batches, self.train_iter, self.val_iter)
    acc = [0.0]

    def run():
      acc[0] = evaluator(choices)
    self.measured(run, [])
    samples = self.state.samples
    samples.append((tuple(int(c) for c in choices), acc[0]))
    self.note_score(acc[0])
    self.reporter.step(len(samples) - 1, "child scoring", acc[0], {"val_acc": acc[0]},
                       {"children/val_acc": acc[0],
                        "children/best_val_acc": self.state.best_curve[-1][1]},
                       len(samples))
    return acc[0] - self.penalty(choices)

  def next_unit(self) -> Optional[Callable[[], None]]:
    if self.state.phase is not Phase.CHILDREN:
      return None
    if self.agent:
      return self.agent_unit
    return self.random_unit

  def agent_unit(self) -> None:
    self.agent.iteration()
    self.after_child()

  def random_unit(self) -> None:
    self.score([int(np.random.choice(a)) for a in self.full.alive])
    self.after_child()

  def after_child(self) -> None:
    if len(self.state.samples) >= self.cfg.child_samples:
      self.set_phase(Phase.DONE)

  def finish(self) -> SearchOutcome:
    best_choices, best = max(self.state.samples,
                             key=lambda s: s[1] - self.penalty(s[0]))
    self.record("children", samples=len(self.state.samples), best_val_acc=best)
    if self.agent:
      self.ctx.summaries.image(0, "probs/policy", self.agent.probs())
    return self.outcome(genotype_lib.from_choices(self.space, best_choices), self.full)


class GivenGenotype(Search):
  """No search: `--genotype` (a hand-designed or earlier-found genotype), retrained
  and evaluated exactly like a found one."""

  def __init__(self, ctx: SearchContext):
    super().__init__(ctx, SearchState("genotype", Phase.DONE, ctx.cfg.batch_size))
    self.genotype = genotype_lib.load(ctx.cfg.genotype, ctx.space)

  def next_unit(self) -> Optional[Callable[[], None]]:
    return None

  def finish(self) -> SearchOutcome:
    return self.outcome(self.genotype, Subspace(tuple(
        (c,) for c in self.genotype.choices(self.space))))


def _decision_markdown(d: PruneDecision) -> str:
  reward = "n/a" if d.mean_reward is None else f"{d.mean_reward:.3f}"
  alpha = "n/a" if d.alpha_prob is None else f"{d.alpha_prob:.3f}"
  best = (f"its layer's best by {-d.z:.1f} standard errors, given up because the "
          "bests together exceed the budget; " if d.best_given_up else "")
  return (f"round {d.round} ({d.phase}): layer {d.layer} drops `{d.op}` "
          f"({best}policy p={d.policy_prob:.3f}, mean reward {reward}, "
          f"alpha p={alpha}); "
          f"estimate {d.estimate_before_mb:.0f} -> {d.estimate_after_mb:.0f} MB, "
          f"budget {d.budget_mb:.0f} MB, log10 size {d.log10_size_after:.2f}")


METHODS = {"radars": (RadarsSearch, Phase.WARMUP), "dnas": (DnasSearch, Phase.DNAS),
           "rl": (ChildSearch, Phase.CHILDREN), "random": (ChildSearch, Phase.CHILDREN)}


def new_state(ctx: SearchContext, phase: Optional[Phase] = None) -> SearchState:
  """The state a method starts from (`phase`: where a method not listed in METHODS
  starts)."""
  method = ctx.cfg.method
  supernet = method in ("radars", "dnas")
  return SearchState(method, phase or METHODS[method][1], ctx.cfg.batch_size,
                     Subspace.full(ctx.space) if supernet else None)


def make_search(ctx: SearchContext, method_class=None,
                first_phase: Optional[Phase] = None) -> Search:
  """The method of `ctx.cfg` (or `method_class`, starting in `first_phase`), rebuilt
  from the model dir's saved state if there is one (read once, here), with its
  variables restored."""
  cfg = ctx.cfg
  if cfg.genotype and method_class is None:
    return GivenGenotype(ctx)
  if cfg.method == "dnas":
    need = memory_model.estimate(
        ctx.space, Subspace.full(ctx.space), ctx.source.input_shape,
        ctx.source.spec.num_classes,
        cfg.batch_size // ctx.strategy.num_replicas_in_sync).total_mb
    if need > cfg.budget_mb:
      raise MemoryBudgetError(f"dnas: the full supernet needs {need:.0f} MB, "
                              f"budget {cfg.budget_mb:.0f} MB")
  method_class = method_class or METHODS[cfg.method][0]
  saved = ctx.checkpoints.load_state() if ctx.checkpoints else None
  if saved is None:
    return method_class(ctx, new_state(ctx, first_phase))
  if saved.get("method") != cfg.method:
    raise UserError(f"the checkpoint belongs to method {saved.get('method')}, not "
                    f"{cfg.method}; pass --overwrite to start over")
  state = SearchState.from_json(saved, ctx.space)
  search = method_class(ctx, state)
  ctx.checkpoints.restore(search.variables_to_save(), saved)
  ctx.progress.note(f"resumed after unit {state.units} ({state.seconds:.0f} s of "
                    "search done)")
  return search


def run_search(ctx: SearchContext) -> SearchOutcome:
  return make_search(ctx).run()
