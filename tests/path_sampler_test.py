"""Path sampling: uniform draws from alive candidates; fair deals each layer's
candidates in turn; local changes only
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

  def test_varied_share_is_the_evidence_an_episode_gives(self):
    self.assertEqual(path_sampler.PathSampler("uniform", 2, 0).varied_share(4), 1.0)
    self.assertEqual(path_sampler.PathSampler("fair", 2, 0).varied_share(4), 1.0)
    local = path_sampler.PathSampler("local", 2, 0)
    self.assertEqual(local.varied_share(4), 1.0)     # no reference yet: all vary
    local.reference = REF
    self.assertEqual(local.varied_share(4), 0.5)
    local.vary = 6
    self.assertEqual(local.varied_share(4), 1.0)

  def test_uniform_stays_alive(self):
    s = path_sampler.PathSampler("uniform", 2, 0)
    for _ in range(50):
      path = s.train_path(SUB)
      self.assertTrue(all(c in a for c, a in zip(path, SUB.alive)))

  def test_fair_trains_every_candidate_equally(self):
    s = path_sampler.PathSampler("fair", 2, 0)
    seen = [collections.Counter() for _ in SUB.alive]
    for _ in range(12):                               # 3 decks of 4, 4 of 3
      for layer, c in enumerate(s.train_path(SUB)):
        seen[layer][c] += 1
    self.assertEqual([dict(c) for c in seen],
                     [{c: 12 // len(a) for c in a} for a in SUB.alive])
    uniform = path_sampler.PathSampler("uniform", 2, 0)
    counts = collections.Counter(uniform.train_path(SUB)[0] for _ in range(12))
    self.assertNotEqual(set(counts.values()), {3})    # what fair sampling removes

  def test_fair_follows_pruning(self):
    s = path_sampler.PathSampler("fair", 2, 0)
    for _ in range(4):                                # layer 0: one whole deck
      s.train_path(SUB)
    pruned = ss.Subspace(((1, 3), (0,), (0, 2, 3), (1, 4)))
    seen = collections.Counter()
    for _ in range(4):
      path = s.train_path(pruned)
      self.assertTrue(all(c in a for c, a in zip(path, pruned.alive)))
      seen[path[0]] += 1
    self.assertEqual(seen, {1: 2, 3: 2})
    self.assertEqual(s.episode_path((3, 0, 2, 4)), ((3, 0, 2, 4), (3, 0, 2, 4)))

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
