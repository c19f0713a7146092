"""The memory estimate against TensorFlow's measured allocator peak."""
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

  @parameterized.parameters((2, 0), (4, 1), (8, 2))
  def test_measured_peak_within_the_estimate(self, k, seed):
    space = ss.load("large")
    sub = random_subspace(space, k, seed)
    est = memory_model.estimate(space, sub, SHAPE, 10, per_replica_batch=16)
    got = memory_probe.measure_dnas_step(space, sub, SHAPE, 10, batch=16, steps=1)
    ratio = got.peak_bytes / est.total
    # Never over the estimate (that is an out-of-memory crash in a real search);
    # not so far under it that the budget is wasted.
    self.assertBetween(ratio, 0.7, 1.0,
                       f"k={k}: measured {got.peak_bytes / 2**20:.1f} MB, "
                       f"estimated {est.total_mb:.1f} MB")

  def test_estimate_grows_with_candidates_and_batch(self):
    space = ss.load("large")
    small = memory_model.estimate(space, random_subspace(space, 2, 0), SHAPE, 10, 8)
    big = memory_model.estimate(space, random_subspace(space, 8, 0), SHAPE, 10, 8)
    self.assertGreater(big.total, small.total)
    doubled = memory_model.estimate(space, random_subspace(space, 2, 0), SHAPE, 10, 16)
    self.assertAlmostEqual(doubled.activations, 2 * small.activations, delta=8)
    self.assertEqual(doubled.weights, small.weights)

  def test_state_terms_closed_form(self):
    space = ss.SearchSpace("one", 4, (ss.Stage(4, 1, 1),), ("skip",))
    est = memory_model.estimate(space, ss.Subspace.full(space), (8, 8, 1), 10, 1)
    stem = 3 * 3 * 1 * 4 + 4 * 4          # conv + BN (gamma, beta, mean, var)
    head = 4 * 10 + 10
    self.assertEqual(est.weights, 4 * (stem + head))
    self.assertEqual(est.gradients, 4 * (stem - 2 * 4 + head))
    self.assertEqual(est.optimizer_slots, est.gradients)

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
