"""Estimate of the peak bytes one DNAS training step needs per replica.

Counts, from the same op programs the layers are built from (`ops.program_cost`):
weights (BN statistics included), their gradients, the optimizer's slots, alphas
with their gradient and Adam slots, and the activations every alive candidate keeps
for the backward pass at the per-replica batch, plus the largest transient of the
backward pass. `ACTIVATION_FACTOR` scales the activation term; it was fitted against
TensorFlow's allocator peak (`memory_probe`, `tools/bench_memory.py`) so that the
estimate errs on the safe side: random subspaces of the `large` space measured 0.74
to 0.86 of the estimate (batch 8 and 16, TF 2.15 CPU), single-family spaces 0.57
(pooling) to 0.98 (5x5 convs). tests/memory_model_test.py fails when a measured peak
exceeds it (and when it is below 0.7 of it).
"""
import dataclasses
import functools
from typing import Tuple

import numpy as np

from radars_tf import network, ops
from radars_tf.search_space import SearchSpace, Subspace, candidate_matrix

BYTES = 4                  # float32
ACTIVATION_FACTOR = 1.1    # see module docstring
MB = 1 << 20


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
  weights: int
  gradients: int
  optimizer_slots: int
  alphas: int
  activations: int

  @property
  def total(self) -> int:
    return (self.weights + self.gradients + self.optimizer_slots + self.alphas
            + self.activations)

  @property
  def total_mb(self) -> float:
    return self.total / MB


@functools.lru_cache(maxsize=32)
def layer_costs(space: SearchSpace, input_shape: Tuple[int, int, int]
                ) -> Tuple[Tuple[ops.OpCost, ...], ...]:
  """OpCost of every candidate of every searchable layer (pruned or not); cached,
  since pruning asks for estimates hundreds of times a round."""
  return tuple(tuple(ops.op_cost(spec, l.hw, l.cin, l.cout, l.stride)
                     for spec in l.candidates)
               for l in space.layers(input_shape[0]))


@functools.lru_cache(maxsize=32)
def shortcut_costs(space: SearchSpace, input_shape: Tuple[int, int, int]
                   ) -> Tuple[ops.OpCost, ...]:
  """OpCost of every layer's shortcut (all zero outside residual spaces, and
  where the shortcut is the identity); cached like `layer_costs`."""
  return tuple(ops.op_cost(ops.SHORTCUT, l.hw, l.cin, l.cout, l.stride)
               if space.residual else ops.OpCost(0, 0, 0, 0, False)
               for l in space.layers(input_shape[0]))


def macs_matrix(space: SearchSpace, input_shape: Tuple[int, int, int]) -> np.ndarray:
  """[layers, candidates] forward MACs per example of each candidate op."""
  return candidate_matrix([[c.macs for c in row]
                           for row in layer_costs(space, tuple(input_shape))], 0.0)


def fixed_macs(space: SearchSpace, input_shape: Tuple[int, int, int],
               num_classes: int) -> int:
  """Forward MACs per example of what every architecture has: stem, shortcuts,
  head."""
  stem = ops.op_cost(ops.STEM, input_shape[0], input_shape[2], space.stem_channels,
                     1).macs
  return (stem + sum(c.macs for c in shortcut_costs(space, tuple(input_shape)))
          + network.head_cost(space.stages[-1].channels, num_classes)[1])


def op_memory(space: SearchSpace, input_shape: Tuple[int, int, int]) -> np.ndarray:
  """[layers, candidates] activation elements each op keeps (a memory proxy that
  orders candidates; params break ties), inf where a layer has no candidate."""
  return candidate_matrix([[c.saved_elems + 1e-6 * c.params for c in row]
                           for row in layer_costs(space, tuple(input_shape))],
                          np.inf)


def cheapest_completion(subspace: Subspace, memory: np.ndarray) -> Subspace:
  """Each layer reduced to its alive candidate with the least `memory`."""
  return Subspace(tuple((min(a, key=lambda i, l=l: (memory[l, i], i)),)
                        for l, a in enumerate(subspace.alive)))


def activation_elems(space: SearchSpace, subspace: Subspace,
                     input_shape: Tuple[int, int, int]) -> int:
  """Activation elements per example at the peak of a DNAS step.

  Everything kept for backward (each layer's input once, each alive op's saved
  tensors), plus the largest transient of the backward pass: the gradients of a
  layer's input from each of its alive ops, held until they are summed.
  """
  hw, cin = input_shape[0], input_shape[2]
  kept = ops.op_cost(ops.STEM, hw, cin, space.stem_channels, 1).saved_elems
  transient = 0
  costs = layer_costs(space, tuple(input_shape))
  shortcuts = shortcut_costs(space, tuple(input_shape))
  for layer, alive in zip(space.layers(hw), subspace.alive):
    in_elems = layer.hw * layer.hw * layer.cin
    op_costs = [costs[layer.index][i] for i in alive] + [shortcuts[layer.index]]
    kept += sum(c.saved_elems for c in op_costs)
    kept += in_elems if any(c.input_needed for c in op_costs) else 0
    transient = max(transient, (len(alive) + int(space.residual)) * in_elems)
  return kept + transient


def estimate(space: SearchSpace, subspace: Subspace,
             input_shape: Tuple[int, int, int], num_classes: int,
             per_replica_batch: int) -> MemoryEstimate:
  """Per-replica bytes of one DNAS step over `subspace` (SGD with momentum: one
  optimizer slot per trainable weight)."""
  hw, cin = input_shape[0], input_shape[2]
  stem = ops.op_cost(ops.STEM, hw, cin, space.stem_channels, 1)
  params, trainable = stem.params, stem.trainable
  costs = layer_costs(space, tuple(input_shape))
  for layer_costs_, alive, around in zip(costs, subspace.alive,
                                         shortcut_costs(space, tuple(input_shape))):
    params += sum(layer_costs_[i].params for i in alive) + around.params
    trainable += sum(layer_costs_[i].trainable for i in alive) + around.trainable
  head_params, _ = network.head_cost(space.stages[-1].channels, num_classes)
  params += head_params
  trainable += head_params
  n_alpha = sum(len(c) for c in costs)
  act = activation_elems(space, subspace, input_shape)
  return MemoryEstimate(
      weights=params * BYTES, gradients=trainable * BYTES,
      optimizer_slots=trainable * BYTES,
      alphas=4 * n_alpha * BYTES,            # value, gradient, two Adam slots
      activations=int(ACTIVATION_FACTOR * act * per_replica_batch * BYTES))


def model_macs(space: SearchSpace, op_specs, input_shape: Tuple[int, int, int],
               num_classes: int) -> int:
  """Forward multiply-accumulates per example of a standalone (one op per layer)
  network: stem, the chosen ops, shortcuts, head."""
  return fixed_macs(space, input_shape, num_classes) + sum(
      ops.op_cost(spec, layer.hw, layer.cin, layer.cout, layer.stride).macs
      for layer, spec in zip(space.layers(input_shape[0]), op_specs))
