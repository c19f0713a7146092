"""tools/evidence_estimators.py: the estimators it compares recover a known
additive reward, and the evidence's head (the prefix curve) sees only the first
rewards."""
from absl.testing import absltest
import numpy as np
from scipy import stats

from tests import cli

ee = cli.tool("evidence_estimators")

SHAPE = (6, 5)


def additive(samples: int, noise: float, seed: int = 0):
  """Uniform choices and rewards = sum of known per-candidate effects + noise."""
  rng = np.random.default_rng(seed)
  effects = rng.normal(0, 1, SHAPE)
  choices = rng.integers(SHAPE[1], size=(samples, SHAPE[0]))
  rewards = effects[np.arange(SHAPE[0]), choices].sum(1) + rng.normal(0, noise, samples)
  return effects, choices, rewards - rewards.mean()


def within_layer_tau(table, effects):
  return np.mean([stats.kendalltau(table[l], effects[l]).statistic
                  for l in range(SHAPE[0])])


class EstimatorsTest(absltest.TestCase):

  def test_weak_ridge_recovers_the_effects_and_a_strong_one_shrinks_them(self):
    effects, choices, rewards = additive(600, 0.1)
    weak = ee.ridge_effects(choices, rewards, SHAPE, 1e-4)
    centred = weak - weak.mean(1, keepdims=True)
    np.testing.assert_allclose(centred, effects - effects.mean(1, keepdims=True),
                               atol=0.05)
    strong = ee.ridge_effects(choices, rewards, SHAPE, 1e5)
    self.assertLess(np.abs(strong).max(), 0.05 * np.abs(weak).max())

  def test_cross_validation_prefers_the_model_to_shrinking_it_away(self):
    _, choices, rewards = additive(600, 0.1)
    self.assertLess(ee.cv_error(choices, rewards, SHAPE, 1e-4),
                    ee.cv_error(choices, rewards, SHAPE, 1e5))

  def test_regression_ranks_better_than_means_when_layers_interfere(self):
    # Few rewards: what the other layers chose is noise to a plain mean.
    effects, choices, rewards = additive(60, 0.05, seed=3)
    regression = ee.ridge_effects(choices, rewards, SHAPE, 1e-4)
    means = ee.candidate_means(choices, rewards, SHAPE)
    self.assertGreater(within_layer_tau(regression, effects),
                       within_layer_tau(means, effects))

  def test_head_counts_and_keeps_only_the_first_rewards(self):
    _, choices, rewards = additive(50, 0.1)
    ev = ee.Evidence.empty(SHAPE)
    ev.add([(c, r) for c, r in zip(choices, rewards)])
    head = ev.head(20)
    self.assertLen(head.rewards, 20)
    np.testing.assert_array_equal(head.count.sum(1), np.full(SHAPE[0], 20))
    np.testing.assert_array_equal(
        head.count[0], np.bincount(choices[:20, 0], minlength=SHAPE[1]))

  def test_summed_adds_each_layers_choice(self):
    table = np.arange(np.prod(SHAPE), dtype=float).reshape(SHAPE)
    archs = np.array([[0] * SHAPE[0], [1, 2, 3, 4, 0, 1]])
    np.testing.assert_array_equal(
        ee.summed(table, archs),
        [sum(table[l, 0] for l in range(6)),
         sum(table[l, c] for l, c in enumerate(archs[1]))])


if __name__ == "__main__":
  absltest.main()
