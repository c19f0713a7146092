"""Genotypes: the known (hand-designed) ones are valid for their spaces and build;
`--genotype` files and names load, and bad ones are refused in one line."""
import os
import tempfile

from absl.testing import absltest, parameterized
import tensorflow as tf

from radars_tf import genotype, known_genotypes
from radars_tf import search_space as ss
from radars_tf.errors import UserError


class KnownGenotypesTest(parameterized.TestCase):

  @parameterized.parameters(*known_genotypes.KNOWN)
  def test_known_genotype_is_valid_and_builds(self, name):
    space = ss.load(known_genotypes.KNOWN[name][0])
    geno = genotype.load(name, space)
    self.assertEqual(geno.ops, known_genotypes.KNOWN[name][1])
    self.assertEqual(genotype.from_choices(space, geno.choices(space)), geno)
    model = geno.build(space, (28, 28, 1), 10)
    self.assertEqual(model(tf.zeros((2, 28, 28, 1))).shape, (2, 10))


class LoadTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.space = ss.load("large")
    self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

  def write(self, geno):
    path = os.path.join(self.dir, "g.json")
    with open(path, "w") as f:
      f.write(geno.to_json())
    return path

  def test_file_round_trip(self):
    geno = genotype.from_choices(self.space, [3] * 14)
    self.assertEqual(genotype.load(self.write(geno), self.space), geno)

  def test_refusals(self):
    with self.assertRaisesRegex(UserError, "neither a known genotype"):
      genotype.load("no_such_genotype", self.space)
    with self.assertRaisesRegex(UserError, "not of tiny"):
      genotype.load("plain_conv", ss.load("tiny"))
    bad_op = genotype.Genotype("large", ("conv_k3",) * 13 + ("zero",))
    with self.assertRaisesRegex(UserError, "layer 13 op zero is not a candidate"):
      genotype.load(self.write(bad_op), self.space)


if __name__ == "__main__":
  absltest.main()
