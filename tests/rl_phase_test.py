"""How many episodes an RL phase samples: fixed, or sized in rewards per alive
candidate of the widest layer (more on a large subspace, fewer after pruning)."""
from absl.testing import absltest, parameterized

from radars_tf import rl_phase
from radars_tf import search_space as ss

WIDE = ss.Subspace((tuple(range(26)), (0, 1, 2), (4,)))
NARROW = ss.Subspace(((0, 3, 5), (0, 1), (4,)))


class EpisodesTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("fixed_without_the_target", WIDE, 0.0, 1.0, 64),
      # 40 rewards x 26 candidates over 4 iterations
      ("wide_subspace", WIDE, 40.0, 1.0, 260),
      ("narrow_subspace", NARROW, 40.0, 1.0, 30),
      # an episode rewards 2 of 3 layers: 3/2 as many episodes
      ("local_sampling", NARROW, 40.0, 2 / 3, 45),
      ("at_least_a_batch", NARROW, 1.0, 1.0, rl_phase.MIN_EPISODES))
  def test_episodes_per_iteration(self, sub, per_candidate, share, expected):
    self.assertEqual(
        rl_phase.episodes_per_iteration(sub, 4, 64, per_candidate, share), expected)

  def test_each_widest_candidate_gets_the_target_on_average(self):
    for sub in (WIDE, NARROW):
      per_iteration = rl_phase.episodes_per_iteration(sub, 3, 64, 25.0, 1.0)
      widest = sub.widest()
      self.assertGreaterEqual(3 * per_iteration / widest, 25.0)
      self.assertLess(3 * (per_iteration - 1) / widest, 25.0)


if __name__ == "__main__":
  absltest.main()
