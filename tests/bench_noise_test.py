"""tools/bench_noise.py: the seeds a comparison needs, and its random genotypes."""
from absl.testing import absltest, parameterized

from radars_tf import search_space

from tests import cli

bn = cli.tool("bench_noise")


class BenchNoiseTest(parameterized.TestCase):

  @parameterized.parameters((1.0, 2, 2.80), (0.5, 8, 0.70), (0.2, 2, 0.56))
  def test_detectable_difference(self, sd, seeds, expected):
    self.assertAlmostEqual(bn.detectable(sd, seeds), expected, places=2)

  @parameterized.parameters((0.5, 0.5, 16), (0.25, 0.5, 4), (0.05, 0.5, 2))
  def test_seeds_needed_detect_the_difference(self, sd, difference, expected):
    n = bn.seeds_needed(sd, difference)
    self.assertEqual(n, expected)
    self.assertLessEqual(bn.detectable(sd, n), difference)
    if n > 2:
      self.assertGreater(bn.detectable(sd, n - 1), difference)

  def test_random_genotypes_are_fixed_by_seed_and_valid(self):
    space = search_space.load("large")
    a = bn.random_genotypes(space, 5, seed=3)
    self.assertEqual(a, bn.random_genotypes(space, 5, seed=3))
    self.assertNotEqual(a, bn.random_genotypes(space, 5, seed=4))
    self.assertLen({g.ops for g in a}, 5)
    for g in a:
      g.check(space)


if __name__ == "__main__":
  absltest.main()
