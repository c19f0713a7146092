"""Pruning decisions: quotas, ranking, stopping exactly when the estimate fits."""
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from radars_tf import pruning
from radars_tf import search_space as ss

SPACE = ss.SearchSpace("p", 4, (ss.Stage(4, 1, 3),),
                       ("conv_k3", "sepconv_k3", "maxpool_k3", "skip", "avgpool_k3",
                        "conv_k1"))


def size_mb(sub):
  """A stand-in estimate: 10 MB per alive candidate."""
  return 10.0 * sub.num_alive()


class PruningTest(parameterized.TestCase):

  @parameterized.parameters((0.34, [2, 2, 1]), (0.5, [3, 3, 1]), (1.0, [5, 5, 1]))
  def test_quota(self, fraction, expected):
    sub = ss.Subspace(((0, 1, 2, 3, 4, 5), (0, 1, 2, 3, 4, 5), (0, 1)))
    self.assertEqual(pruning.per_layer_quota(sub, fraction), expected)

  def test_stops_exactly_when_it_fits(self):
    sub = ss.Subspace.full(SPACE)            # 18 alive -> 180 MB
    probs = np.full((3, 6), 1 / 6)
    probs[:, 0] = 0.5                        # op 0 preferred everywhere
    sub2, decisions = pruning.prune_to_fit(SPACE, sub, probs, np.full((3, 6), np.nan),
                                           size_mb, 145.0, 0.5, 0)
    self.assertEqual(size_mb(sub2), 140.0)   # the first size at or under 145
    self.assertLen(decisions, 4)
    self.assertGreater(decisions[-2].estimate_after_mb, 145.0)
    self.assertLessEqual(decisions[-1].estimate_after_mb, 145.0)
    for a in sub2.alive:
      self.assertIn(0, a)

  def test_quota_limits_one_round(self):
    sub = ss.Subspace.full(SPACE)
    probs = np.full((3, 6), 1 / 6)
    sub2, decisions = pruning.prune_to_fit(SPACE, sub, probs, np.full((3, 6), np.nan),
                                           size_mb, 10.0, 0.34, 0)
    self.assertLen(decisions, 6)             # 2 per layer, then the round ends
    self.assertEqual([len(a) for a in sub2.alive], [4, 4, 4])
    self.assertGreater(size_mb(sub2), 10.0)

  def test_nothing_to_do_when_it_fits(self):
    sub = ss.Subspace.full(SPACE)
    _, decisions = pruning.prune_to_fit(SPACE, sub, np.full((3, 6), 1 / 6),
                                        np.zeros((3, 6)), size_mb, 1e9, 0.5, 0)
    self.assertEmpty(decisions)

  def test_rewards_break_ties(self):
    sub = ss.Subspace(((0, 1, 2),))
    space = ss.SearchSpace("t", 4, (ss.Stage(4, 1, 1),), ("conv_k3", "skip", "conv_k1"))
    probs = np.array([[1 / 3, 1 / 3, 1 / 3]])
    rewards = np.array([[0.9, 0.2, 0.5]])
    _, decisions = pruning.prune_to_fit(space, sub, probs, rewards, size_mb, 25.0,
                                        0.34, 0)
    self.assertEqual([d.op for d in decisions], ["skip"])
    self.assertEqual(decisions[0].mean_reward, 0.2)

  def test_between_rounds_keeps_the_best(self):
    sub = ss.Subspace.full(SPACE)
    alpha = np.tile(np.array([0.05, 0.05, 0.6, 0.1, 0.1, 0.1]), (3, 1))
    policy = np.full((3, 6), 1 / 6)
    sub2, decisions = pruning.prune_between_rounds(SPACE, sub, alpha, policy, size_mb,
                                                   100.0, 0.5, 1)
    self.assertLen(decisions, 9)
    for a in sub2.alive:
      self.assertIn(2, a)
      self.assertLen(a, 3)
    self.assertTrue(all(d.phase == "dnas" and d.alpha_prob is not None
                        for d in decisions))

  def test_reward_table(self):
    table = pruning.reward_table((2, 3), [((0, 1), 1.0), ((0, 2), 0.0)])
    self.assertEqual(table[0, 0], 0.5)
    self.assertEqual(table[1, 1], 1.0)
    self.assertTrue(np.isnan(table[0, 1]))


if __name__ == "__main__":
  absltest.main()
