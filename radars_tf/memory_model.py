"""Estimate of the peak bytes one DNAS training step needs per replica.

Counts, from the same op programs the layers are built from (`ops.program_cost`),
every part a step holds at its peak, each named: what it holds throughout
(weights with BN statistics, SGD momentum slots, alphas with their Adam slots, its
two input batches), then the larger of its two backward passes: the weight pass
(at its backward's peak the activations still to be read plus the weight gradients
computed by then; at its update every gradient, held together for clipping by the
global norm, and the weight decay's temporaries) or the alpha pass (its
activations; it computes no weight gradient). Activations are counted layer by
layer as the backward pass frees them (`pass_peaks`). These terms count tensors,
as their ops request them (`memory_probe.tensor_peak` measures that apart); the
allocator hands out chunks of up to twice a request, which `chunking` covers, and
a search's context, which `search_context` names (3% since the input pipelines
batch uint8 images): the fitted terms.
`memory_probe.measure_dnas_step` measures each part apart (`tools/bench_memory.py`
prints them); tests/memory_model_test.py fails when a measured peak exceeds the
estimate. On a GPU the input pipeline is host memory, outside the device's
allocator; on a CPU device its buffers share the allocator, fill before a round
and stay within the estimate during its steps (tests/memory_model_test.py), so it
is not a term.
"""
import dataclasses
import functools
from typing import List, Optional, Tuple

import numpy as np

from radars_tf import network, ops
from radars_tf.search_space import SearchSpace, Subspace, candidate_matrix

BYTES = 4                  # float32
MB = 1 << 20
CHUNKING = 0.16     # see MemoryEstimate.chunking
SEARCH_CONTEXT = 0.03     # see MemoryEstimate.search_context


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
  weights: int
  optimizer_slots: int
  alphas: int           # value and two Adam slots
  inputs: int           # the step's two batches (train and val)
  # The weight pass: at its backward's peak, the activations it holds and the
  # weight gradients computed by then (of the head and the layers after the
  # peak's); at its update, every gradient and the weight decay's temporaries
  # (one per weight), once backward has freed its activations.
  weight_activations: int
  early_gradients: int
  gradients: int
  weight_decay: int
  # The alpha pass: its activations only (it computes no weight gradient).
  alpha_activations: int
  # The passes run one after the other (dnas_trainer orders them). The terms
  # above count tensors as requested; BFC hands a request a free chunk of up to
  # twice its size whole, and under allow_growth its regions double from 2 MB, so
  # a pass of large tensors is allocated more than its tensors: measured (TF's
  # profiler, `memory_probe.tensor_peak`) mbconv_e6_k3 at batch 64, 268 MB
  # allocated for 209 MB of tensors; up to 1.11 of the tensors in the weight pass
  # of `xlarge` one-op supernets (tools/bench_memory.py --per_op). The executor's
  # order of independent ops moves a peak by a few percent more. Not modelled
  # chunk by chunk: 16% of the weight pass's activations, above the upper tail of
  # a fresh step's excess over its terms (`large`, 1-8 candidates, batch 16 and
  # 64: 0.010-0.133 of them in 43 runs, 0.092-0.153 in 6 with one inter-op
  # thread; 13%, the term before, was crossed once, by k=2 in a CI run). The
  # tail is heavy (a main job's 400-MB subspace at batch 64 measured 0.177):
  # what bounds a search is dnas_phase's guard.
  chunking: int
  # What a search's earlier phases and its input pipeline leave in the allocator
  # when a DNAS round runs (BFC's free chunks of other sizes; on a CPU device
  # tf.data's buffers share the allocator), measured apart by
  # tools/probe_rounds.py. While the pipelines shuffled decoded float32 images,
  # rounds measured 0.015-0.32 of the weight pass's activations above the same
  # step in a fresh process (10% was this term). Since they shuffle uint8 images
  # (commit 8d5718a) rounds measure less: over the 60 rounds of
  # `tools/bench_memory.py`'s 36 RADARS searches (xlarge, 4-36 candidates, batch
  # 32/64, 128-512 MB; AMD Zen 4) -0.156 to +0.020 of the activations above the
  # other terms, the top in 26-36-candidate searches at batch 32. 3% covers that
  # with little to spare; a subspace of one op per layer went to +0.109 there,
  # which dnas_phase's guard catches (the first step measured, pruned again or
  # the batch halved).
  search_context: int

  @property
  def held(self) -> int:
    """What the step keeps throughout: weights, optimizer slots, alphas, inputs."""
    return self.weights + self.optimizer_slots + self.alphas + self.inputs

  @property
  def weight_pass(self) -> int:
    return max(self.weight_activations + self.early_gradients,
               self.gradients + self.weight_decay)

  @property
  def probe_total(self) -> int:
    """A step in a fresh process on in-memory batches (`memory_probe`)."""
    return (self.held + max(self.weight_pass, self.alpha_activations)
            + self.chunking)

  @property
  def total(self) -> int:
    """A DNAS round of a search: what the pruning target is checked against."""
    return self.probe_total + self.search_context

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
                   ) -> Tuple[Optional[ops.OpCost], ...]:
  """OpCost of every layer's shortcut (None outside residual spaces); cached like
  `layer_costs`."""
  return tuple(ops.op_cost(ops.SHORTCUT, l.hw, l.cin, l.cout, l.stride)
               if space.residual else None
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
  return (stem + sum(c.macs for c in shortcut_costs(space, tuple(input_shape)) if c)
          + network.head_cost(space.stages[-1].channels, num_classes)[1])


def op_memory(space: SearchSpace, input_shape: Tuple[int, int, int]) -> np.ndarray:
  """[layers, candidates] activation elements each op keeps (a memory proxy that
  orders candidates; params break ties), inf where a layer has no candidate."""
  return candidate_matrix([[c.kept + 1e-6 * c.params for c in row]
                           for row in layer_costs(space, tuple(input_shape))],
                          np.inf)


def cheapest_completion(subspace: Subspace, memory: np.ndarray) -> Subspace:
  """Each layer reduced to its alive candidate with the least `memory`."""
  return Subspace(tuple((min(a, key=lambda i, l=l: (memory[l, i], i)),)
                        for l, a in enumerate(subspace.alive)))


def pass_peaks(space: SearchSpace, subspace: Subspace,
               input_shape: Tuple[int, int, int], alpha_pass: bool) -> List[int]:
  """Activation elements per example one backward pass holds at each point of its
  way back: the stem first, then each searchable layer.

  Backward runs from the last layer to the first and frees each layer's kept
  tensors once it is done, so at a layer it holds what the layers up to it keep
  plus that layer's transient: the gradient arriving at its output, one gradient
  of its input per op (summed only once all exist), and the largest gradient
  inside an op.
  """
  hw, cin = input_shape[0], input_shape[2]
  stem = ops.op_cost(ops.STEM, hw, cin, space.stem_channels, 1)
  held = 0 if alpha_pass else stem.kept_weight + hw * hw * cin
  points = [held + stem.largest_elems]
  costs = layer_costs(space, tuple(input_shape))
  shortcuts = shortcut_costs(space, tuple(input_shape))
  for layer, alive in zip(space.layers(hw), subspace.alive):
    in_elems = layer.hw * layer.hw * layer.cin
    # The alpha pass stops at the first layer: no gradient of its input.
    to_input = not (alpha_pass and layer.index == 0)
    # Ops scaled by a mixing weight (in residual spaces an identity op adds nothing)
    weighted = [c for c in (costs[layer.index][i] for i in alive)
                if not (space.residual and c.identity)]
    around = shortcuts[layer.index]          # not weighted: its output is not kept
    parts = weighted + ([around] if around else [])
    if alpha_pass and layer.index == 0:
      # The tape records only what depends on a watched alpha: the first layer's
      # ops run on the stem's output, so only their outputs (read by their
      # weights' gradients) are kept, not their insides nor their input.
      held += sum(c.output_elems for c in weighted)
      needs_input = False
    elif alpha_pass:
      held += sum(c.kept_alpha for c in parts) + sum(
          c.output_elems for c in weighted if not c.output_kept)
      # a weighted identity's output is its input: its weight's gradient reads it
      needs_input = (any(c.input_alpha for c in parts)
                     or any(c.identity for c in weighted))
    else:
      held += sum(c.kept_weight for c in parts)
      needs_input = any(c.input_weight for c in parts)
    held += in_elems if needs_input else 0
    out_elems = max(c.output_elems for c in parts)
    grads = sum(c.passes_gradient for c in parts) if to_input else 0
    points.append(held + out_elems + grads * in_elems
                  + max(c.largest_elems for c in parts))
  return points


def pass_peak_elems(space: SearchSpace, subspace: Subspace,
                    input_shape: Tuple[int, int, int], alpha_pass: bool) -> int:
  """Activation elements per example at the peak of one backward pass."""
  return max(pass_peaks(space, subspace, input_shape, alpha_pass))


def layer_weights(space: SearchSpace, subspace: Subspace,
                  input_shape: Tuple[int, int, int], field: str) -> List[int]:
  """`field` ("params" or "trainable") of each searchable layer's alive ops and
  its shortcut."""
  return [sum(getattr(row[i], field) for i in alive)
          + (getattr(around, field) if around else 0)
          for row, alive, around in zip(layer_costs(space, tuple(input_shape)),
                                        subspace.alive,
                                        shortcut_costs(space, tuple(input_shape)))]


def estimate(space: SearchSpace, subspace: Subspace,
             input_shape: Tuple[int, int, int], num_classes: int,
             per_replica_batch: int) -> MemoryEstimate:
  """Per-replica bytes of one DNAS step over `subspace` (SGD with momentum and
  weight decay: one optimizer slot per trainable weight)."""
  hw, cin = input_shape[0], input_shape[2]
  stem = ops.op_cost(ops.STEM, hw, cin, space.stem_channels, 1)
  head_params, _ = network.head_cost(space.stages[-1].channels, num_classes)
  per_layer = layer_weights(space, subspace, input_shape, "trainable")
  params = stem.params + head_params + sum(
      layer_weights(space, subspace, input_shape, "params"))
  trainable = stem.trainable + head_params + sum(per_layer)
  # Backward computes the head's weight gradients first, then each layer's on its
  # way back: at a layer, those of the layers after it (and its own) exist.
  done = [trainable] + [head_params + sum(per_layer[l:])
                        for l in range(len(per_layer))]
  per_example = per_replica_batch * BYTES
  activations, early = max(
      ((elems * per_example, grads * BYTES) for elems, grads in zip(
          pass_peaks(space, subspace, input_shape, False), done)), key=sum)
  n_alpha = sum(len(c) for c in layer_costs(space, tuple(input_shape)))
  return MemoryEstimate(
      # each optimizer also counts its steps (int64)
      weights=params * BYTES, optimizer_slots=trainable * BYTES + 8,
      alphas=3 * n_alpha * BYTES + 8,
      inputs=2 * (hw * hw * cin + 1) * per_example,     # images and labels
      weight_activations=activations, early_gradients=early,
      gradients=trainable * BYTES, weight_decay=trainable * BYTES,
      alpha_activations=pass_peak_elems(space, subspace, input_shape, True)
      * per_example, chunking=int(CHUNKING * activations),
      search_context=int(SEARCH_CONTEXT * activations))


def model_macs(space: SearchSpace, op_specs, input_shape: Tuple[int, int, int],
               num_classes: int) -> int:
  """Forward multiply-accumulates per example of a standalone (one op per layer)
  network: stem, the chosen ops, shortcuts, head."""
  return fixed_macs(space, input_shape, num_classes) + sum(
      ops.op_cost(spec, layer.hw, layer.cin, layer.cout, layer.stride).macs
      for layer, spec in zip(space.layers(input_shape[0]), op_specs))
