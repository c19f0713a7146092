"""The RL phase of RADARS: shared supernet weights trained on sampled paths, the
TF-Agents agent sampling architectures scored with those weights, and the pruning
decisions drawn from what they collected."""
import math
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import alphas as alphas_lib
from radars_tf import memory_model, pruning
from radars_tf import path_sampler
from radars_tf.evidence import Evidence
from radars_tf.search_state import Sample
from radars_tf.single_path import SinglePathTrainer
from radars_tf.supernet import Supernet


# REINFORCE normalizes returns over an iteration's episodes: a batch, not a few.
MIN_EPISODES = 8


def episodes_per_iteration(subspace, iterations: int, fixed: int,
                           rewards_per_candidate: float, varied_share: float) -> int:
  """Episodes an agent iteration samples: `fixed`, or, with
  `rewards_per_candidate`, enough that the phase gives each alive candidate of
  the widest layer that many rewards on average (an episode rewards a candidate
  only in the `varied_share` of layers it varies): many on a large subspace,
  few once pruning and DNAS have narrowed it."""
  if not rewards_per_candidate:
    return fixed
  phase = rewards_per_candidate * subspace.widest() / varied_share
  return max(MIN_EPISODES, math.ceil(phase / iterations))


class _RlDeadline(Exception):
  """The RL share of the time budget ran out inside an agent iteration."""


class RlPhase:
  """Owns the single-path trainer and the agent of one supernet.

  Args:
    host: the running `search_loop.Search` (iterators, state, reporter, record).
  """

  def __init__(self, host, net: Supernet):
    self.host, self.net, cfg = host, net, host.cfg
    self.paths = SinglePathTrainer(net, host.strategy, host.state.batch_size,
                                   cfg.w_lr, cfg.single_path_compiled)
    self.sampler = path_sampler.PathSampler(cfg.path_sampling, cfg.vary_layers,
                                            cfg.seed)
    self.agent = agent_lib.ArchitectureAgent(
        self.mask(), self.reward, cfg.agent_lr, cfg.entropy_weight,
        cfg.episodes_per_iteration)
    if host.state.evidence is None:
      host.state.evidence = Evidence.empty(self.mask().shape)
    self.rule = pruning.EvidenceRule(cfg.min_samples, cfg.prune_confidence,
                                     cfg.max_samples)
    self.score_batches = []          # the phase's fixed validation batches
    self.used: List[Sample] = []     # the phase's (choices used, reward)
    self.cut_at_deadline = False     # see `check_time`
    self.iteration_seconds = 0.0     # the last whole agent iteration's

  def mask(self) -> np.ndarray:
    return self.net.subspace.mask(self.net.space)

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return dict(path_opt=self.paths.opt, **self.agent.variables_to_save())

  def sync(self) -> None:
    """Follows the supernet's current subspace (optimizer slots, agent mask)."""
    self.paths.rebuild()
    self.agent.set_mask(self.mask())

  def begin_unit(self, seed: int) -> None:
    self.sampler.reseed(seed)
    self.agent.reset_sampling()

  def update_reference(self) -> None:
    """local sampling: the reference path is each layer's best-measured alive
    candidate (the first time, a seeded random path); kept in the search state."""
    if self.host.cfg.path_sampling != "local":
      return
    state, sub = self.host.state, self.net.subspace
    if not state.reference:
      state.reference = list(path_sampler.initial_reference(
          self.net.space, sub, self.host.cfg.seed))
    state.reference = list(path_sampler.best_reference(
        sub, state.evidence.mean(), state.evidence.count, self.rule.min_samples,
        state.reference))
    self.sampler.reference = tuple(state.reference)

  def check_time(self) -> None:
    """Before every shared-weight step and every reward: a signal or the spent time
    budget stops the search, and the RL deadline an iteration after the first (so
    that neither the search nor DNAS's window overruns by a whole iteration)."""
    self.host.reporter.check_stop()
    if self.cut_at_deadline and self.host.schedule.rl_over(self.host.elapsed):
      raise _RlDeadline()

  def next_path(self):
    self.check_time()
    return self.sampler.train_path(self.net.subspace)

  def reward(self, choices: Sequence[int]) -> float:
    host = self.host
    self.check_time()
    path, used = self.sampler.episode_path(choices)
    acc = self.paths.score(iter(self.score_batches), path, len(self.score_batches))
    host.note_score(acc)
    reward = acc - host.penalty(path)
    self.used.append((used, reward))   # pruning's evidence: the objective searched
    return reward

  def warmup(self) -> None:
    """Shared weights trained before the first reward, so that rewards tell
    architectures apart (TuNAS/SPOS warm up the same way)."""
    host, steps = self.host, self.host.cfg.warmup_steps
    if not steps:
      return
    host.ctx.progress.phase(f"warm-up: {steps} shared-weight steps on "
                            f"{host.cfg.path_sampling} paths", steps)
    self.update_reference()
    losses = []
    for i in range(steps):
      if i and host.schedule.warmup_over(host.elapsed):
        break                        # its share of the time budget is spent
      losses.append(self.paths.train_path(host.train_iter, self.next_path()))
      host.reporter.step(i, "warm-up", losses[-1], {"loss": losses[-1]})
    tail = losses[-max(1, len(losses) // 10):]
    host.record("warmup", steps=len(losses), mean_loss=float(np.mean(losses)),
                final_loss=float(np.mean(tail)))

  def run(self, to_deadline: bool = False) -> List[Sample]:
    """One RL phase: shared-weight training and agent iterations in turns; adds
    what the episodes showed to the evidence and returns it ((choices used,
    reward) per episode). A phase that prunes `to_deadline` (RADARS before DNAS)
    stops at the RL deadline, mid-iteration too, except in the search's first
    iteration (the first evidence); between DNAS rounds a phase runs one."""
    host, cfg, state = self.host, self.host.cfg, self.host.state
    self.sync()                      # follow any pruning since the unit began
    self.update_reference()
    sub = self.net.subspace
    iters = cfg.rl_iterations_per_phase
    episodes = episodes_per_iteration(
        sub, iters, cfg.episodes_per_iteration, cfg.rewards_per_candidate,
        self.sampler.varied_share(len(sub.alive)))
    self.agent.set_episodes(episodes)
    host.ctx.progress.phase(
        f"RL phase {state.rl_phases + 1}: log10 size {sub.log10_size():.1f}, "
        f"estimate {host.estimate_mb(sub):.0f} MB of {cfg.budget_mb:.0f} MB", iters)
    # Every architecture of the phase is scored on the same batches: differences
    # between rewards are then differences between architectures.
    self.score_batches = [next(host.val_iter) for _ in range(cfg.score_batches)]
    self.used, done = [], 0
    for it in range(iters):
      exempt = it == 0 and not (to_deadline and state.rl_phases)
      if not exempt and host.schedule.rl_over(host.elapsed):
        break                        # the RL share of the time budget is spent
      host.reporter.check_stop()
      self.cut_at_deadline = not exempt
      started = time.perf_counter()
      try:
        loss = self.paths.train(host.train_iter, cfg.path_train_steps,
                                self.next_path)
        batch, agent_loss = self.agent.iteration()
        self.iteration_seconds = time.perf_counter() - started
      except _RlDeadline:
        self.agent.abandon_iteration()   # its rewards stay in the evidence
        break
      finally:
        self.cut_at_deadline = False
      rewards = np.array([r for _, r in batch])
      ent = alphas_lib.mean_entropy(self.agent.probs(), sub)
      host.reporter.step(
          it, f"RL phase {state.rl_phases + 1}", loss,
          {"reward": float(rewards.mean()), "entropy": ent},
          {"agent/reward_mean": rewards.mean(), "agent/reward_std": rewards.std(),
           "agent/reward_max": rewards.max(), "agent/loss": agent_loss,
           "agent/policy_entropy": ent, "supernet/path_loss": loss},
          state.agent_steps)
      state.agent_steps += 1
      done += 1
    host.ctx.summaries.image(state.rl_phases, "probs/policy", self.agent.probs(),
                             "policy probability per layer (rows) and candidate")
    host.record("rl_phase", phase=state.rl_phases, iterations=done,
                episodes=len(self.used), episodes_per_iteration=episodes,
                widest_layer=sub.widest(),
                reward_mean=(float(np.mean([r for _, r in self.used]))
                             if self.used else None),
                log10_size=sub.log10_size())
    state.rl_phases += 1
    state.evidence.add(self.used)
    return self.used

  def prune_to_fit(self, deadline: bool = False
                   ) -> Tuple[object, List[pruning.PruneDecision]]:
    """The subspace after pruning toward the budget on the evidence so far (with
    `deadline`, all the way to it: see `pruning.prune_to_fit`)."""
    host = self.host
    return pruning.prune_to_fit(
        host.space, self.net.subspace, host.state.evidence, self.rule,
        self.agent.probs(), host.estimate_mb, host.cfg.budget_mb,
        host.state.rl_phases - 1,
        memory_model.op_memory(host.space, tuple(host.input_shape)), deadline)

  def prune_between_rounds(self, alpha_probs: np.ndarray, round_index: int,
                           at_least_one: bool = False):
    """The subspace after a DNAS round, pruned where its alphas are confident."""
    host, cfg = self.host, self.host.cfg
    return pruning.prune_between_rounds(
        host.space, self.net.subspace, alpha_probs, self.agent.probs(),
        host.estimate_mb, cfg.budget_mb, cfg.alpha_prune_ratio, round_index,
        at_least_one)
