"""The memory estimate against TensorFlow's measured allocator peak, whole and by
part (`memory_probe.measure_dnas_step`, each in a fresh process: a process that
held larger tensors before measures the same step higher)."""
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from radars_tf import memory_model, memory_probe
from radars_tf import search_space as ss

SHAPE = (28, 28, 1)


def random_subspace(space, k, seed):
  rng = np.random.default_rng(seed)
  return ss.Subspace(tuple(tuple(sorted(rng.choice(len(c), k, replace=False).tolist()))
                           for c in space.candidates()))


class MemoryModelTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(("large", 2, 0), ("large", 4, 1), ("large", 8, 2),
                            ("darts", 3, 4))
  def test_measured_peak_within_the_estimate(self, name, k, seed):
    space = ss.load(name)
    sub = random_subspace(space, k, seed)
    est = memory_model.estimate(space, sub, SHAPE, 10, per_replica_batch=16)
    got = memory_probe.measure_in_fresh_process(space, sub, SHAPE, 10, batch=16,
                                                 steps=3)
    where = f"{name} k={k}: measured {{:.1f}} MB, estimated {{:.1f}} MB"
    # The estimate bounds a round, its first (tracing) step included: no step
    # over it, and the round's highest step at most 15% under it. Which step is
    # highest depends on the space (darts k=3 on an AVX-512 CPU: first step
    # 0.92-0.96 of the estimate, the later ones 0.82-0.88, lower when another
    # process shares the cores; `large`: the later ones).
    for measured in (got.peak_bytes, got.first_step_bytes):
      self.assertLessEqual(measured, est.probe_total,
                           where.format(measured / 2**20, est.probe_total / 2**20))
    round_peak = max(got.peak_bytes, got.first_step_bytes)
    self.assertGreaterEqual(round_peak / est.probe_total, 0.85,
                            where.format(round_peak / 2**20, est.probe_total / 2**20))
    # The parts: what is held is counted exactly, and each pass's tensors (as
    # their ops request them) within its term. Allocated, with BFC's chunking, a
    # pass is not held to term + chunking: each half is measured alone after a
    # full step, so its chunks depend on the allocator's state (large k=4 seed 1,
    # 17 runs: weight pass 162.9-178.8 MB allocated for 155.8-156.6 MB of
    # tensors, term + chunking 180.2 MB; one CI run failed a part check here).
    # The whole step above is what a round is held to.
    self.assertEqual(got.held_bytes, est.held)
    self.assertLessEqual(got.weight_pass_tensor_bytes, est.weight_pass,
                         where.format(got.weight_pass_tensor_bytes / 2**20,
                                      est.weight_pass / 2**20))
    self.assertLessEqual(got.alpha_pass_tensor_bytes, est.alpha_activations,
                         where.format(got.alpha_pass_tensor_bytes / 2**20,
                                      est.alpha_activations / 2**20))

  @parameterized.parameters("mbconv_e3_k3", "mbconv_e8_k3", "conv_k7",
                            "sepconv_k5", "dilconv_k7", "maxpool_k3")
  def test_pass_tensors_within_their_terms(self, op):
    # Counted by tensor (as their ops request them), what each pass of a step of
    # `xlarge` with `op` in every layer holds at once is at most its term and
    # close to it: measured 0.90-0.99 (weight pass) and 0.95-0.997 (alpha pass) of
    # the terms for these ops (tools/bench_memory.py --per_op). A term that
    # over-counts fails, as the weight pass did for dense convs when it added every
    # weight gradient to the activations' peak (conv_k7 0.69), and the alpha pass
    # when it counted the first layer's insides, which its tape does not record
    # (0.87-0.92; maxpool_k3 0.92 without oneDNN's workspace). Not covered here:
    # MBConv e6/e8 with k5/k7 measure 1.0006-1.0035 of the weight pass's term (the
    # executor starts a layer's backward before the layer after it has freed what
    # its filter gradients read); the chunking term covers that.
    space = ss.load("xlarge")
    sub = ss.Subspace(tuple((c.index(op) if op in c else 0,)
                            for c in space.candidates()))
    est = memory_model.estimate(space, sub, SHAPE, 10, per_replica_batch=64)
    got = memory_probe.measure_in_fresh_process(space, sub, SHAPE, 10, batch=64,
                                                 steps=1)
    for name, measured, term, floor in (
        ("weight", got.weight_pass_tensor_bytes, est.weight_pass, 0.87),
        ("alpha", got.alpha_pass_tensor_bytes, est.alpha_activations, 0.94)):
      self.assertBetween(measured / term, floor, 1.0,
                         f"{op} {name} pass: tensors {measured / 2**20:.1f} MB, "
                         f"term {term / 2**20:.1f} MB")
    # Allocated, with BFC's chunking, a pass is not held to term + chunking
    # here: the chunking varies from run to run (mbconv_e8_k3 allocated 608.1 MB
    # for 533.4 MB of tensors in one CI run, 0.8 MB over; 0.93-0.98 of it in two
    # bench runs), and the search's guard, not this term, is what bounds it.

  def test_dilated_conv_step_within_the_estimate(self):
    # Dilated convs run through space-to-batch: a padded copy of their input and
    # its gradient (a step of every layer dilconv_k7 measured 7% over the estimate
    # that left the padded copy's gradient out).
    op, space = "dilconv_k7", ss.load("xlarge")
    sub = ss.Subspace(tuple((c.index(op),) for c in space.candidates()))
    est = memory_model.estimate(space, sub, SHAPE, 10, per_replica_batch=64)
    got = memory_probe.measure_in_fresh_process(space, sub, SHAPE, 10, batch=64,
                                                 steps=2)
    for measured in (got.peak_bytes, got.first_step_bytes):
      self.assertLessEqual(measured, est.probe_total, f"{op}: measured "
                           f"{measured / 2**20:.1f} MB, estimated "
                           f"{est.probe_total / 2**20:.1f} MB")

  def test_step_on_the_real_input_pipeline_within_the_estimate(self):
    # On a CPU device tf.data's buffers (shuffle, prefetch) share the allocator;
    # they fill before a round, and what they allocate during its steps must fit
    # the estimate of a search's round, whose search_context term covers them
    # (on a GPU they are host memory, outside it).
    space = ss.load("large")
    sub = random_subspace(space, 2, 0)
    est = memory_model.estimate(space, sub, SHAPE, 10, per_replica_batch=16)
    got = memory_probe.measure_in_fresh_process(space, sub, SHAPE, 10, batch=16,
                                                 steps=3, dataset="fashion_mnist")
    self.assertLessEqual(got.peak_bytes, est.total,
                         f"measured {got.peak_bytes / 2**20:.1f} MB, estimated "
                         f"{est.total_mb:.1f} MB")

  def test_estimate_grows_with_candidates_and_batch(self):
    space = ss.load("large")
    small = memory_model.estimate(space, random_subspace(space, 2, 0), SHAPE, 10, 8)
    big = memory_model.estimate(space, random_subspace(space, 8, 0), SHAPE, 10, 8)
    self.assertGreater(big.total, small.total)
    doubled = memory_model.estimate(space, random_subspace(space, 2, 0), SHAPE, 10, 16)
    self.assertEqual(doubled.weight_activations, 2 * small.weight_activations)
    self.assertEqual(doubled.alpha_activations, 2 * small.alpha_activations)
    self.assertEqual(doubled.weights, small.weights)

  def test_state_terms_closed_form(self):
    space = ss.SearchSpace("one", 4, (ss.Stage(4, 1, 1),), ("skip",))
    est = memory_model.estimate(space, ss.Subspace.full(space), (8, 8, 1), 10, 1)
    stem = 3 * 3 * 1 * 4 + 4 * 4          # conv + BN (gamma, beta, mean, var)
    head = 4 * 10 + 10
    self.assertEqual(est.weights, 4 * (stem + head))
    self.assertEqual(est.gradients, 4 * (stem - 2 * 4 + head))
    self.assertEqual(est.optimizer_slots, est.gradients + 8)
    self.assertEqual(est.weight_decay, est.gradients)
    self.assertEqual(est.inputs, 4 * 2 * (8 * 8 * 1 + 1))

  def test_passes_keep_what_their_gradients_read(self):
    # A 1x1 conv + BN on 8x8x4 -> 4: the weight pass keeps the conv's input (its
    # filter gradient) and output (BN's input); the alpha pass only BN's input,
    # plus the op's output for its mixing weight's gradient.
    cost = memory_model.ops.op_cost("conv_k1", 8, 4, 4, 1)
    self.assertEqual(cost.kept_weight, 64 * 4 + 64 * 4)   # relu out, conv out
    self.assertEqual(cost.kept_alpha, 64 * 4 + 64 * 4)
    self.assertFalse(cost.output_kept)
    pool = memory_model.ops.op_cost("avgpool_k3", 8, 4, 4, 1)
    self.assertEqual((pool.kept_weight, pool.kept_alpha), (0, 0))
    self.assertFalse(pool.input_weight or pool.input_alpha)

  def test_model_macs_are_the_fixed_part_plus_the_chosen_ops(self):
    space = ss.load("tiny")
    macs = memory_model.macs_matrix(space, SHAPE)
    for choices in ([0, 0, 0], [1, 2, 3], [3, 0, 1]):
      ops = [c[i] for c, i in zip(space.candidates(), choices)]
      self.assertEqual(memory_model.model_macs(space, ops, SHAPE, 10),
                       memory_model.fixed_macs(space, SHAPE, 10)
                       + sum(macs[l, i] for l, i in enumerate(choices)))
    self.assertEqual(macs[0, 3], 0)          # skip: no multiply-accumulates


if __name__ == "__main__":
  tf.test.main()
