"""Pruning decisions: on evidence only, memory-hungry first among the condemned,
stopping exactly when the estimate fits; between DNAS rounds only on confident
alphas; and, with a synthetic reward whose best candidates are known, the real
agent and evidence pruning keep the best quartile where random pruning cannot."""
import itertools

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from radars_tf import agent as agent_lib
from radars_tf import pruning
from radars_tf import search_space as ss
from radars_tf.config import RunConfig
from radars_tf.evidence import Evidence

SPACE = ss.SearchSpace("p", 4, (ss.Stage(4, 1, 3),),
                       ("conv_k3", "sepconv_k3", "maxpool_k3", "skip", "avgpool_k3",
                        "conv_k1"))
RULE = pruning.EvidenceRule(min_samples=4, confidence=2.0, max_samples=1000)


def size_mb(sub):
  """A stand-in estimate: 10 MB per alive candidate."""
  return 10.0 * sub.num_alive()


def evidence_from(means, noise=0.01, rounds=None):
  """Rewards of an additive reward (the sum over layers of the chosen candidates'
  `means`, [layers, candidates]) -/+ `noise`: every combination of choices twice,
  with opposite noise (so that the noise is no candidate's effect and every
  candidate is measured alike); with `rounds`, only that many rounds of each
  candidate once per layer."""
  layers, cands = means.shape
  if rounds is None:
    combos = list(itertools.product(range(cands), repeat=layers))
  else:
    combos = [[(c + k * (layer + 1)) % cands for layer in range(layers)]
              for k in range(rounds) for c in range(cands)]
  samples = [(list(ch), sum(means[l, i] for l, i in enumerate(ch)) + sign * noise)
             for ch in combos for sign in (-1, 1)]
  ev = Evidence.empty(means.shape)
  ev.add(samples)
  return ev


class EvidenceTest(absltest.TestCase):

  def test_rewards_are_centred_per_phase(self):
    ev = Evidence.empty((1, 2))
    ev.add([((0,), 0.9), ((1,), 0.7)])         # phase 1: mean 0.8
    ev.add([((0,), 0.3), ((1,), 0.1)])         # phase 2, weaker weights: mean 0.2
    np.testing.assert_allclose(ev.mean(), [[0.1, -0.1]], atol=1e-4)
    np.testing.assert_allclose(ev.count, [[2, 2]])

  def test_other_layers_choices_are_explained_not_noise(self):
    # Layer 1's choice moves the reward by 0.2; layer 0's candidates differ by 0.02.
    rng = np.random.default_rng(0)
    means = np.array([[0.02, 0.0], [0.2, 0.0]])
    samples = []
    for _ in range(40):
      choices = [int(rng.integers(2)), int(rng.integers(2))]
      samples.append((choices, means[0, choices[0]] + means[1, choices[1]]
                      + rng.normal(0, 0.005)))
    ev = Evidence.empty((2, 2))
    ev.add(samples)
    np.testing.assert_allclose(ev.mean()[0, 0] - ev.mean()[0, 1], 0.02, atol=0.005)
    (_, _, z0), (_, _, z1) = ev.separation(ss.Subspace(((0, 1), (0, 1))), 4)
    self.assertGreater(z0, 5.0)     # a per-candidate mean would see ~0.1 of noise
    self.assertGreater(z1, z0)

  def test_json_round_trip(self):
    ev = evidence_from(np.tile(np.array([0.1, 0.0, 0.05, 0.0, 0.02, 0.01]), (3, 1)))
    again = Evidence.from_json(ev.to_json())
    np.testing.assert_allclose(again.mean(), ev.mean())
    np.testing.assert_allclose(again.count, ev.count)
    self.assertEqual(again.separation(ss.Subspace.full(SPACE), 4),
                     ev.separation(ss.Subspace.full(SPACE), 4))


class PruneToFitTest(absltest.TestCase):

  def test_stops_exactly_when_it_fits_memory_hungry_first(self):
    sub = ss.Subspace.full(SPACE)            # 18 alive -> 180 MB
    means = np.zeros((3, 6))
    means[:, 0] = 0.1                        # op 0 clearly best everywhere
    memory = np.tile(np.arange(6, dtype=float), (3, 1))   # op 5 the hungriest
    sub2, decisions = pruning.prune_to_fit(
        SPACE, sub, evidence_from(means), RULE, np.full((3, 6), 1 / 6), size_mb,
        145.0, 0, memory)
    self.assertEqual(size_mb(sub2), 140.0)   # the first size at or under 145
    self.assertLen(decisions, 4)
    self.assertEqual([d.index for d in decisions], [5, 5, 5, 4])
    self.assertLessEqual(decisions[-1].estimate_after_mb, 145.0)
    self.assertTrue(all(d.z >= 2.0 and d.samples == 72 for d in decisions))
    for a in sub2.alive:
      self.assertIn(0, a)

  def test_no_evidence_no_pruning(self):
    sub = ss.Subspace.full(SPACE)
    means = np.zeros((3, 6))
    means[:, 0] = 0.1
    few = evidence_from(means, rounds=1)     # 2 rewards each, below min_samples
    _, decisions = pruning.prune_to_fit(SPACE, sub, few, RULE, np.full((3, 6), 1 / 6),
                                        size_mb, 100.0, 0, np.ones((3, 6)))
    self.assertEmpty(decisions)

  def test_deadline_fits_the_budget_on_little_evidence_keeping_each_best(self):
    # The RL share of a time budget is spent: 4 rewards each, below min_samples,
    # condemn nothing; with the deadline every layer is cut to fit, its
    # best-measured candidate kept, the measured-worse before the unmeasured.
    sub = ss.Subspace.full(SPACE)
    means = np.zeros((3, 6))
    means[:, 0] = 0.1
    few = evidence_from(means, rounds=2)
    patient = pruning.EvidenceRule(8, 2.0, max_samples=1000)
    args = (np.full((3, 6), 1 / 6), size_mb, 100.0, 0, np.ones((3, 6)))
    _, decisions = pruning.prune_to_fit(SPACE, sub, few, patient, *args)
    self.assertEmpty(decisions)
    sub2, decisions = pruning.prune_to_fit(SPACE, sub, few, patient, *args,
                                           deadline=True)
    self.assertEqual(size_mb(sub2), 100.0)
    self.assertTrue(all(0 in a for a in sub2.alive))
    self.assertTrue(all(d.samples == 4 and d.z > 0.0 for d in decisions))
    unmeasured = ss.Subspace(((0, 1, 2), (0, 1, 2), (0, 1, 2)))
    blank = Evidence.empty((3, 6))
    sub3, decisions = pruning.prune_to_fit(
        SPACE, unmeasured, blank, patient, np.full((3, 6), 1 / 6), size_mb, 60.0, 0,
        np.tile(np.array([1.0, 3.0, 2.0, 0, 0, 0]), (3, 1)), deadline=True)
    self.assertEqual(sub3.alive, ((0, 2), (0, 2), (0, 2)))   # hungriest first
    self.assertTrue(all(d.samples == 0 and d.z == 0.0 for d in decisions))

  def test_inseparable_candidates_wait_for_max_samples(self):
    sub = ss.Subspace.full(SPACE)
    even = evidence_from(np.zeros((3, 6)), noise=0.05)
    memory = np.ones((3, 6))
    _, decisions = pruning.prune_to_fit(SPACE, sub, even, RULE, np.full((3, 6), 1 / 6),
                                        size_mb, 100.0, 0, memory)
    self.assertEmpty(decisions)
    patient = pruning.EvidenceRule(4, 2.0, max_samples=72)
    sub2, decisions = pruning.prune_to_fit(SPACE, sub, even, patient,
                                           np.full((3, 6), 1 / 6), size_mb, 100.0, 0,
                                           memory)
    self.assertLen(decisions, 8)                 # 180 -> 100 MB
    self.assertTrue(all(0 in a for a in sub2.alive))   # each layer's best stays

  def test_bests_that_together_exceed_the_budget_give_way(self):
    # Op 0 is every layer's best and the hungriest: the bests alone need 18 MB, the
    # budget is 12. Every other prune stops where it would leave no one-op choice
    # within the budget; then bests go, the least clearly best first (layer 2's
    # lead is the smallest), until the estimate fits.
    sub = ss.Subspace.full(SPACE)
    means = np.zeros((3, 6))
    means[:, 0] = (0.1, 0.1, 0.03)
    memory = np.tile(np.array([5.0, 1, 1, 1, 1, 1]), (3, 1))
    def estimate(s):
      return sum(memory[l, i] + 1 for l, a in enumerate(s.alive) for i in a)
    sub2, decisions = pruning.prune_to_fit(
        SPACE, sub, evidence_from(means), RULE, np.full((3, 6), 1 / 6), estimate,
        12.0, 0, memory)
    self.assertLessEqual(estimate(sub2), 12.0)
    given_up = [(d.layer, d.index) for d in decisions if d.best_given_up]
    self.assertLen(given_up, 2)
    self.assertEqual(given_up[0], (2, 0))
    self.assertEqual(sum(0 in a for a in sub2.alive), 1)   # the best that fits stays
    self.assertTrue(all(d.z <= 0.0 for d in decisions if d.best_given_up))
    self.assertTrue(all(d.z >= 2.0 for d in decisions if not d.best_given_up))

  def test_nothing_to_do_when_it_fits(self):
    sub = ss.Subspace.full(SPACE)
    _, decisions = pruning.prune_to_fit(SPACE, sub, evidence_from(np.zeros((3, 6))),
                                        RULE, np.full((3, 6), 1 / 6), size_mb, 1e9, 0,
                                        np.ones((3, 6)))
    self.assertEmpty(decisions)


class BetweenRoundsTest(absltest.TestCase):

  def test_confident_alphas_prune_undecided_do_not(self):
    sub = ss.Subspace.full(SPACE)
    alpha = np.tile(np.array([0.05, 0.05, 0.6, 0.1, 0.1, 0.1]), (3, 1))
    policy = np.full((3, 6), 1 / 6)
    sub2, decisions = pruning.prune_between_rounds(SPACE, sub, alpha, policy, size_mb,
                                                   100.0, 0.3, 1)
    self.assertEqual(sub2.alive, ((2,),) * 3)    # all below 0.3 * 0.6 go
    self.assertTrue(all(d.phase == "dnas" and d.alpha_prob is not None
                        for d in decisions))
    flat = np.full((3, 6), 1 / 6) + np.linspace(0, 0.01, 6)
    _, decisions = pruning.prune_between_rounds(SPACE, sub, flat, policy, size_mb,
                                                100.0, 0.3, 1)
    self.assertEmpty(decisions)
    sub3, decisions = pruning.prune_between_rounds(SPACE, sub, flat, policy, size_mb,
                                                   100.0, 0.3, 1, at_least_one=True)
    self.assertEqual([len(a) for a in sub3.alive], [5, 5, 5])
    self.assertEqual({d.index for d in decisions}, {0})


LAYERS, CANDS, QUARTILE = 8, 12, 3


def known_best_run(prune_randomly: bool, seed: int = 0) -> float:
  """RL phases of the real agent on a synthetic reward (mean per-layer quality of
  the choices plus noise), evidence pruning until 1/3 of the candidates are left;
  returns the fraction of each layer's best quartile still alive."""
  rng = np.random.default_rng(seed)
  tf.keras.utils.set_random_seed(seed)
  quality = rng.uniform(0, 0.2, (LAYERS, CANDS))
  memory = rng.uniform(1, 2, (LAYERS, CANDS))
  best = np.argsort(-quality, axis=1)[:, :QUARTILE]
  budget = memory.sum() / 3

  def estimate(sub):
    return float(sum(memory[l, i] for l, a in enumerate(sub.alive) for i in a))

  def reward(choices):
    return float(np.mean(quality[np.arange(LAYERS), choices]) + rng.normal(0, 0.01))
  space = ss.SearchSpace("k", 4, (ss.Stage(4, 1, LAYERS),),
                         tuple(f"conv_k{k}" for k in (1, 3, 5)) + tuple(
                             f"mbconv_e{e}_k{k}" for e in (1, 3, 6) for k in (3, 5, 7)))
  sub = ss.Subspace.full(space)
  agent = agent_lib.ArchitectureAgent(sub.mask(space), reward, 0.05, 0.01, 64)
  evidence = Evidence.empty((LAYERS, CANDS))
  defaults = RunConfig()             # the rule the search uses by default
  rule = pruning.EvidenceRule(defaults.min_samples, defaults.prune_confidence,
                              defaults.max_samples)
  for phase in range(12):
    samples = []
    for _ in range(4):
      samples += agent.iteration()[0]
    evidence.add(samples)
    if prune_randomly:
      while estimate(sub) > budget:
        layer = int(rng.choice([l for l, a in enumerate(sub.alive) if len(a) > 1]))
        sub = sub.without(layer, int(rng.choice(sub.alive[layer])))
    else:
      sub, _ = pruning.prune_to_fit(space, sub, evidence, rule, agent.probs(),
                                    estimate, budget, phase, memory)
    agent.set_mask(sub.mask(space))
    if estimate(sub) <= budget:
      break
  assert estimate(sub) <= budget, "did not reach the budget"
  return float(np.mean([[b in sub.alive[l] for b in best[l]]
                        for l in range(LAYERS)]))


class KnownBestTest(absltest.TestCase):

  def test_evidence_keeps_the_best_quartile_random_does_not(self):
    # Measured with the default rule over seeds 0-7: 0.875-1.0, mean 0.917 with
    # the regression evidence; seeds 0-2 give 0.917, 0.875, 0.917. Per-candidate
    # means (the evidence before) kept 0.75-0.88, mean 0.82, seeds 0-2 0.83, 0.83,
    # 0.79: they fail here.
    kept = [known_best_run(prune_randomly=False, seed=s) for s in range(3)]
    self.assertGreaterEqual(np.mean(kept), 0.85, kept)
    self.assertGreaterEqual(min(kept), 0.85, kept)
    # The same budget reached by pruning at random keeps about a third (0.29-0.38
    # measured): the assertions above can fail.
    self.assertLess(known_best_run(prune_randomly=True), 0.5)


if __name__ == "__main__":
  absltest.main()
