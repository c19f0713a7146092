"""Path sampling: uniform draws from alive candidates; local changes only
`vary` layers of the reference, deals every alive candidate in turn, and scores
episodes with the reference where it did not use the agent's choice."""
import collections

from absl.testing import absltest
import numpy as np

from radars_tf import path_sampler
from radars_tf import search_space as ss

SUB = ss.Subspace(((0, 1, 2, 3), (0, 1, 2), (0, 2, 3), (1, 2, 3, 4)))
REF = (0, 1, 2, 3)


class PathSamplerTest(absltest.TestCase):

  def test_uniform_stays_alive(self):
    s = path_sampler.PathSampler("uniform", 2, 0)
    for _ in range(50):
      path = s.train_path(SUB)
      self.assertTrue(all(c in a for c, a in zip(path, SUB.alive)))

  def test_local_changes_vary_layers_and_is_fair(self):
    s = path_sampler.PathSampler("local", 2, 0)
    s.reference = REF
    others = sum(len(a) - 1 for a in SUB.alive)       # 10 (layer, candidate) pairs
    seen = collections.Counter()
    for _ in range(others * 3 // 2):                  # three full decks, 2 per path
      path = s.train_path(SUB)
      changed = [(l, c) for l, (c, r) in enumerate(zip(path, REF)) if c != r]
      self.assertLen(changed, 2)
      self.assertTrue(all(c in SUB.alive[l] for l, c in changed))
      seen.update(changed)
    self.assertLen(seen, others)
    self.assertEqual(set(seen.values()), {3})          # every candidate 3 times

  def test_episode_uses_reference_elsewhere(self):
    s = path_sampler.PathSampler("local", 1, 0)
    s.reference = REF
    path, used = s.episode_path((3, 2, 0, 4))
    self.assertEqual(sum(u != path_sampler.UNUSED for u in used), 1)
    for l, (p, u) in enumerate(zip(path, used)):
      self.assertEqual(p, (3, 2, 0, 4)[l] if u != path_sampler.UNUSED else REF[l])

  def test_best_reference_follows_evidence(self):
    mean = np.zeros((4, 5))
    count = np.zeros((4, 5))
    mean[0, 2], count[0, [1, 2]] = 0.1, 10
    ref = path_sampler.best_reference(SUB, mean, count, 8, REF)
    self.assertEqual(ref, (2, 1, 2, 3))
    pruned = ss.Subspace(((0, 1, 2, 3), (0, 2), (0, 2, 3), (1, 2, 3, 4)))
    self.assertEqual(path_sampler.best_reference(pruned, mean, count, 8, REF)[1], 0)


if __name__ == "__main__":
  absltest.main()
