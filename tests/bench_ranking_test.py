"""tools/bench_ranking.py: the Kendall tau that seed noise leaves a proxy, and
the uncertainty of a tau over 20 architectures."""
from absl.testing import absltest, parameterized
import numpy as np
from scipy import stats

from tests import cli

br = cli.tool("bench_ranking")


class CeilingsTest(parameterized.TestCase):

  @parameterized.parameters((1.0, 2), (0.5, 4), (2.0, 2), (0.3, 1))
  def test_ceilings_match_simulated_ground_truths(self, seed_sd, seeds):
    """Architectures with normal own effects (sd 1) trained under normal seed
    noise: the predicted taus are what a perfect proxy and a second seed get."""
    rng = np.random.default_rng(0)
    own = rng.normal(size=20000)
    acc = own[:, None] + rng.normal(scale=seed_sd, size=(20000, max(2, seeds)))
    truth = acc[:, :seeds].mean(axis=1)
    measured_sd = float(np.sqrt(np.mean(acc.var(axis=1, ddof=1))))
    between, perfect = br.ceilings(truth, measured_sd, seeds)
    self.assertAlmostEqual(between, br.kendall_spearman(acc[:, 0], acc[:, 1])[0],
                           delta=0.03)
    self.assertAlmostEqual(perfect, br.kendall_spearman(own, truth)[0], delta=0.03)

  def test_no_seed_noise_leaves_a_perfect_ranking(self):
    for tau in br.ceilings(np.arange(5.0), 0.0, 2):
      self.assertAlmostEqual(tau, 1.0)


class TauIntervalTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, 2)
  def test_tau_b_is_scipys_with_ties(self, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 6, size=(2, 20)).astype(float)
    self.assertAlmostEqual(float(br.tau_b(x, y)), stats.kendalltau(x, y).statistic)

  def test_interval_covers_the_population_tau(self):
    """Samples of 20 from a normal population of known tau: the 95% interval
    holds it in most of them (a bootstrap that broke the pairs would centre on
    0 and miss it)."""
    rng, r, covered = np.random.default_rng(0), 0.6, 0
    tau = 2 / np.pi * np.arcsin(r)
    for trial in range(200):
      x = rng.normal(size=20)
      y = r * x + np.sqrt(1 - r * r) * rng.normal(size=20)
      low, high = br.tau_interval(x, y, reps=1000, seed=trial)
      covered += low <= tau <= high
    self.assertBetween(covered / 200, 0.88, 0.99)

  def test_difference_from_a_baseline(self):
    """Paired resamples: a proxy against itself differs by exactly 0; a close
    proxy beats a random one on 100 architectures; swapped, it loses."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=100)
    good, noise = truth + 0.3 * rng.normal(size=100), rng.normal(size=100)
    self.assertEqual(br.tau_interval(good, truth, baseline=good), (0.0, 0.0))
    self.assertGreater(br.tau_interval(good, truth, reps=500, baseline=noise)[0], 0.5)
    self.assertLess(br.tau_interval(noise, truth, reps=500, baseline=good)[1], -0.5)

  def test_perfect_ranking_has_no_width(self):
    self.assertEqual(br.tau_interval(np.arange(20.0), np.arange(20.0)), (1.0, 1.0))


class RankMeanTest(absltest.TestCase):

  def test_two_independent_views_rank_better_than_either(self):
    """Two proxies whose errors are independent (as the warm-up's shared
    weights and FLOPs nearly are): their rank mean beats both, whatever their
    scales (FLOPs are in the millions)."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=2000)
    a = truth + rng.normal(size=2000)
    b = 1e7 * np.exp(truth + rng.normal(size=2000))
    both = stats.kendalltau(br.rank_mean(a, b), truth).statistic
    for one in (a, b):
      self.assertGreater(both, stats.kendalltau(one, truth).statistic + 0.05)

  def test_ties_share_their_mean_rank(self):
    np.testing.assert_array_equal(br.rank_mean([1, 1, 2], [3, 2, 1]),
                                  [2.25, 1.75, 2.0])


if __name__ == "__main__":
  absltest.main()
