"""The TF-Agents controller: masked ops are never sampled; on a synthetic reward it
learns the best op, and pruning driven by it never removes that op."""
import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import pruning
from radars_tf.evidence import Evidence
from radars_tf import search_space as ss

LAYERS, CANDIDATES, BEST = 4, 6, 2
SPACE = ss.SearchSpace("a", 4, (ss.Stage(4, 1, LAYERS),),
                       ("conv_k3", "sepconv_k3", "maxpool_k3", "skip", "avgpool_k3",
                        "conv_k1"))


def synthetic_reward(choices):
  """Fraction of layers that picked op BEST."""
  return float(np.mean([c == BEST for c in choices]))


class AgentTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    tf.keras.utils.set_random_seed(3)

  def test_masked_ops_are_never_sampled(self):
    mask = np.ones((LAYERS, CANDIDATES), np.float32)
    mask[0, [0, 1, 5]] = 0
    mask[3, :5] = 0
    a = agent_lib.ArchitectureAgent(mask, lambda c: 0.0, 0.1, 0.0, 16)
    samples, _ = a.iteration()
    self.assertLen(samples, 16)
    for choices, _ in samples:
      self.assertNotIn(choices[0], (0, 1, 5))
      self.assertEqual(choices[3], 5)
    probs = a.probs()
    self.assertAllClose(probs[0, [0, 1, 5]], [0, 0, 0])
    self.assertAllClose(probs.sum(axis=1), np.ones(LAYERS), atol=1e-5)

  def test_set_episodes_resizes_the_next_iterations(self):
    mask = np.ones((LAYERS, CANDIDATES), np.float32)
    a = agent_lib.ArchitectureAgent(mask, synthetic_reward, 0.1, 0.0, 4)
    for episodes in (4, 37, 9):    # 37 needs a larger replay buffer than 4 had
      a.set_episodes(episodes)
      samples, loss = a.iteration()
      self.assertLen(samples, episodes)
      self.assertTrue(np.isfinite(loss))

  def test_set_episodes_keeps_the_policy_sampling_where_it_was(self):
    mask = np.ones((LAYERS, CANDIDATES), np.float32)
    runs = []
    for resize in (False, True):
      tf.keras.utils.set_random_seed(5)
      a = agent_lib.ArchitectureAgent(mask, lambda c: 0.0, 0.0, 0.0, 6)
      first, _ = a.iteration()
      if resize:
        a.set_episodes(6)
      second, _ = a.iteration()
      runs.append([c for c, _ in first + second])
    self.assertEqual(runs[0], runs[1])
    self.assertNotEqual(runs[0][:6], runs[0][6:])   # the sampling went on

  def test_uniform_policy_at_start(self):
    a = agent_lib.ArchitectureAgent(np.ones((LAYERS, CANDIDATES), np.float32),
                                    synthetic_reward, 0.1, 0.0, 4)
    self.assertAllClose(a.probs(), np.full((LAYERS, CANDIDATES), 1 / CANDIDATES))

  def test_learns_best_op_and_pruning_keeps_it(self):
    sub = ss.Subspace.full(SPACE)
    mask = np.ones((LAYERS, CANDIDATES), np.float32)
    a = agent_lib.ArchitectureAgent(mask, synthetic_reward, 0.1, 0.01, 8)
    start = a.probs()[:, BEST]
    samples = []
    for _ in range(20):
      s, loss = a.iteration()
      samples += s
      self.assertTrue(np.isfinite(loss))
    probs = a.probs()
    self.assertTrue(np.all(probs[:, BEST] > start + 0.2), probs[:, BEST])
    evidence = Evidence.empty(mask.shape)
    evidence.add(samples)
    # Prune all the way down: one candidate per layer must be left, and it is BEST.
    sub2, _ = pruning.prune_to_fit(
        SPACE, sub, evidence, pruning.EvidenceRule(2, 1.0, 1000), probs,
        lambda s: float(s.num_alive()), LAYERS, 0, np.ones(mask.shape))
    self.assertEqual(sub2.alive, ((BEST,),) * LAYERS)


if __name__ == "__main__":
  tf.test.main()
