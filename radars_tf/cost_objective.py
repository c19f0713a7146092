"""The search's cost term, in rewards (RL, children) and in the DNAS alpha loss.

Two terms, either or both:
- `cost_weight` times the architecture's MACs normalized so that the most
  expensive architecture costs 1;
- with a FLOPs target, TuNAS' absolute reward (Bender et al. 2020):
  reward = accuracy + beta * |flops / target - 1| with beta = -cost_beta, which
  pulls the search towards the target from both sides. DNAS minimizes the same
  term of its expected FLOPs (the mixing weights times each op's FLOPs);
- with a latency target, the same absolute term of the train step predicted by a
  latency table measured on this device (latency_table.py): FLOPs predict a CPU's
  training time poorly (README, "Training time against FLOPs").
"""
import dataclasses
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from radars_tf import memory_model
from radars_tf.latency_table import LatencyTable
from radars_tf.search_space import SearchSpace


@dataclasses.dataclass(frozen=True)
class CostObjective:
  flops: np.ndarray          # [layers, candidates] forward FLOPs (2 x MACs) per example
  fixed_flops: float         # stem, shortcuts and head: every architecture has them
  cost_weight: float = 0.0
  target_mflops: float = 0.0
  cost_beta: float = 0.07
  latency: Optional[LatencyTable] = None
  target_ms: float = 0.0

  def __post_init__(self):
    if self.target_ms and self.latency is None:
      raise ValueError("a latency target needs a latency table")

  @classmethod
  def for_space(cls, space: SearchSpace, input_shape, num_classes: int,
                cost_weight: float = 0.0, target_mflops: float = 0.0,
                cost_beta: float = 0.07, latency: Optional[LatencyTable] = None,
                target_ms: float = 0.0) -> "CostObjective":
    return cls(2.0 * memory_model.macs_matrix(space, input_shape),
               2.0 * memory_model.fixed_macs(space, input_shape, num_classes),
               cost_weight, target_mflops, cost_beta, latency, target_ms)

  @property
  def _norm(self) -> float:
    return max(float(self.flops.max(axis=1).sum()), 1.0)

  def mflops(self, choices: Sequence[int]) -> float:
    return (self.fixed_flops + sum(float(self.flops[l, c])
                                   for l, c in enumerate(choices))) / 1e6

  def penalty(self, choices: Sequence[int]) -> float:
    """What the reward of architecture `choices` loses to its cost (>= 0)."""
    flops = sum(float(self.flops[l, c]) for l, c in enumerate(choices))
    p = self.cost_weight * flops / self._norm
    if self.target_mflops:
      mflops = (self.fixed_flops + flops) / 1e6
      p += self.cost_beta * abs(mflops / self.target_mflops - 1.0)
    if self.target_ms:
      p += self.cost_beta * abs(self.latency.predict_ms(choices) / self.target_ms - 1.0)
    return p

  def expected_penalty(self, weights: tf.Tensor) -> tf.Tensor:
    """The penalty of the expected cost under mixing weights [layers, candidates]
    (differentiable: the DNAS alpha loss adds it)."""
    flops = tf.constant(self.flops, tf.float32)
    p = self.cost_weight * tf.reduce_sum(weights * flops) / self._norm
    if self.target_mflops:
      mflops = (self.fixed_flops + tf.reduce_sum(weights * flops)) / 1e6
      p += self.cost_beta * tf.abs(mflops / self.target_mflops - 1.0)
    if self.target_ms:
      p += self.cost_beta * tf.abs(self.latency.expected_ms(weights) / self.target_ms
                                   - 1.0)
    return p

  @property
  def active(self) -> bool:
    return bool(self.cost_weight or self.target_mflops or self.target_ms)
