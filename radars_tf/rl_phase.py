"""The RL phase of RADARS: shared supernet weights trained on sampled paths, the
TF-Agents agent sampling architectures scored with those weights, and the pruning
decisions drawn from what they collected."""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import alphas as alphas_lib
from radars_tf import memory_model, pruning
from radars_tf.search_state import Sample
from radars_tf.single_path import SinglePathTrainer
from radars_tf.supernet import Supernet


class RlPhase:
  """Owns the single-path trainer and the agent of one supernet.

  Args:
    host: the running `search_loop.Search` (iterators, state, reporter, record).
  """

  def __init__(self, host, net: Supernet):
    self.host, self.net, cfg = host, net, host.cfg
    self.paths = SinglePathTrainer(net, host.strategy, host.state.batch_size,
                                   cfg.w_lr, cfg.seed, cfg.single_path_compiled)
    self.agent = agent_lib.ArchitectureAgent(
        self.mask(), self.reward, cfg.agent_lr, cfg.entropy_weight,
        cfg.episodes_per_iteration)

  def mask(self) -> np.ndarray:
    return self.net.subspace.mask(self.net.space)

  def variables_to_save(self) -> Dict[str, tf.Module]:
    return dict(path_opt=self.paths.opt, **self.agent.variables_to_save())

  def sync(self) -> None:
    """Follows the supernet's current subspace (optimizer slots, agent mask)."""
    self.paths.rebuild()
    self.agent.set_mask(self.mask())

  def begin_unit(self, seed: int) -> None:
    self.paths.rng = np.random.default_rng(seed)
    self.agent.reset_sampling()

  def reward(self, choices: Sequence[int]) -> float:
    host = self.host
    acc = self.paths.score(host.val_iter, choices, host.cfg.score_batches)
    host.note_score(acc)
    return acc - host.penalty(choices)

  def warmup(self) -> None:
    """Shared weights trained on uniformly sampled paths, so that the first rewards
    tell architectures apart (TuNAS/SPOS warm up the same way)."""
    host, steps = self.host, self.host.cfg.warmup_steps
    if not steps:
      return
    host.ctx.progress.phase(f"warm-up: {steps} shared-weight steps on random paths",
                            steps)
    losses = []
    for i in range(steps):
      host.reporter.check_stop()
      losses.append(self.paths.train_path(host.train_iter, self.paths.sample_path()))
      host.reporter.step(i, "warm-up", losses[-1], {"loss": losses[-1]})
    tail = losses[-max(1, steps // 10):]
    host.record("warmup", steps=steps, mean_loss=float(np.mean(losses)),
                final_loss=float(np.mean(tail)))

  def run(self) -> List[Sample]:
    """One RL phase: shared-weight training and agent iterations in turns; returns
    the (choices, reward) samples it collected."""
    host, cfg, state = self.host, self.host.cfg, self.host.state
    self.sync()                      # follow any pruning since the unit began
    sub = self.net.subspace
    iters = cfg.rl_iterations_per_phase
    host.ctx.progress.phase(
        f"RL phase {state.rl_phases + 1}: log10 size {sub.log10_size():.1f}, "
        f"estimate {host.estimate_mb(sub):.0f} MB of {cfg.budget_mb:.0f} MB", iters)
    samples = []
    for it in range(iters):
      host.reporter.check_stop()
      loss = self.paths.train(host.train_iter, cfg.path_train_steps)
      batch, agent_loss = self.agent.iteration()
      samples.extend(batch)
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
    host.ctx.summaries.image(state.rl_phases, "probs/policy", self.agent.probs(),
                             "policy probability per layer (rows) and candidate")
    host.record("rl_phase", phase=state.rl_phases,
                reward_mean=float(np.mean([r for _, r in samples])),
                log10_size=sub.log10_size())
    state.rl_phases += 1
    return samples

  def prune_to_fit(self, samples: List[Sample]
                   ) -> Tuple[object, List[pruning.PruneDecision]]:
    """The subspace after pruning toward the budget on what the phase collected."""
    host, cfg = self.host, self.host.cfg
    rewards = pruning.reward_table(self.mask().shape, samples)
    return pruning.prune_to_fit(
        host.space, self.net.subspace, self.agent.probs(), rewards, host.estimate_mb,
        cfg.budget_mb, cfg.prune_fraction, host.state.rl_phases - 1,
        memory_model.op_memory(host.space, tuple(host.input_shape)))

  def prune_between_rounds(self, alpha_probs: np.ndarray, round_index: int):
    """The subspace after a DNAS round, pruned on its alphas and the policy."""
    host, cfg = self.host, self.host.cfg
    return pruning.prune_between_rounds(
        host.space, self.net.subspace, alpha_probs, self.agent.probs(),
        host.estimate_mb, cfg.budget_mb, cfg.dnas_prune_fraction, round_index)
