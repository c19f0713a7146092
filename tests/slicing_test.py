"""Slices: a subspace dealt into sub-supernets that fit the budget, and their
logits put on one scale."""
from absl.testing import absltest, parameterized
import numpy as np

from radars_tf import memory_model, slicing
from radars_tf import search_space as ss
from radars_tf.errors import MemoryBudgetError

SHAPE = (28, 28, 1)


class DealTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.space = ss.load("large")
    self.memory = memory_model.op_memory(self.space, SHAPE)

  @parameterized.parameters(1, 2, 3, 11, 26)
  def test_every_candidate_in_exactly_one_slice(self, k):
    sub = ss.Subspace.full(self.space)
    slices = slicing.deal(sub, self.memory, k, seed=0)
    self.assertLen(slices, k)
    for l, alive in enumerate(sub.alive):
      held = [c for s in slices for c in s.alive[l]]
      self.assertCountEqual(held, alive)
      sizes = [len(s.alive[l]) for s in slices]
      self.assertLessEqual(max(sizes) - min(sizes), 1)

  def test_heaviest_candidates_spread_over_slices(self):
    sub, k = ss.Subspace.full(self.space), 4
    slices = slicing.deal(sub, self.memory, k, seed=3)
    for l, alive in enumerate(sub.alive):
      heaviest = sorted(alive, key=lambda i, l=l: -self.memory[l, i])[:k]
      owners = {j for c in heaviest for j, s in enumerate(slices) if c in s.alive[l]}
      self.assertLen(owners, k)

  def test_few_candidates_repeat_and_seed_changes_the_deal(self):
    sub = ss.Subspace(((0, 5),) + ss.Subspace.full(self.space).alive[1:])
    slices = slicing.deal(sub, self.memory, 3, seed=0)
    self.assertEqual([len(s.alive[0]) for s in slices], [1, 1, 1])
    self.assertCountEqual({s.alive[0][0] for s in slices}, {0, 5})
    self.assertNotEqual(slices, slicing.deal(sub, self.memory, 3, seed=1))

  @parameterized.parameters((64, 512.0), (16, 512.0), (32, 256.0))
  def test_fitting_is_the_fewest_slices_that_fit(self, batch, budget):
    sub = ss.Subspace.full(self.space)
    slices = slicing.fitting(self.space, sub, SHAPE, 10, batch, budget, seed=0)

    def estimates(parts):
      return [memory_model.estimate(self.space, s, SHAPE, 10, batch).total_mb
              for s in parts]

    self.assertGreater(len(slices), 1)
    self.assertLessEqual(max(estimates(slices)), budget)
    fewer = slicing.deal(sub, self.memory, len(slices) - 1, seed=0)
    self.assertGreater(max(estimates(fewer)), budget)

  def test_no_split_fits(self):
    with self.assertRaisesRegex(MemoryBudgetError, "no split"):
      slicing.fitting(self.space, ss.Subspace.full(self.space), SHAPE, 10, 64, 1.0, 0)


class ScaleTest(absltest.TestCase):

  def test_centred_per_layer_and_nan_outside(self):
    logits = np.array([[1.0, 2.0, 6.0], [4.0, 0.0, 0.0]])
    part = ss.Subspace(((0, 2), (0,)))
    out = slicing.centred(logits, part)
    np.testing.assert_allclose(out[0, [0, 2]], [-2.5, 2.5])
    self.assertEqual(out[1, 0], 0.0)
    self.assertTrue(np.isnan(out[0, 1]) and np.isnan(out[1, 1]))

  def test_merged_averages_where_seen(self):
    a = np.array([[1.0, np.nan], [np.nan, np.nan]])
    b = np.array([[3.0, -1.0], [np.nan, np.nan]])
    out = slicing.merged([a, b])
    np.testing.assert_allclose(out[0], [2.0, -1.0])
    self.assertTrue(np.isnan(out[1]).all())


if __name__ == "__main__":
  absltest.main()
