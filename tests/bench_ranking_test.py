"""tools/bench_ranking.py: the Kendall tau that seed noise leaves a proxy."""
from absl.testing import absltest, parameterized
import numpy as np

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


if __name__ == "__main__":
  absltest.main()
