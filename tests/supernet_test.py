"""Supernet: mixed and single_path modes over shared weights, pruning keeps the
survivors' weights, alphas stay apart from the weights."""
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import genotype as genotype_lib
from radars_tf import search_space as ss
from radars_tf.supernet import Supernet

SHAPE = (12, 12, 1)


class SupernetTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    tf.keras.utils.set_random_seed(1)
    self.space = ss.load("tiny")
    self.net = Supernet(self.space, ss.Subspace.full(self.space), SHAPE, 10)
    self.alphas = alphas_lib.Alphas(self.space)
    self.x = tf.random.normal((4,) + SHAPE)

  def test_alphas_are_not_weights(self):
    ids = {id(v) for v in self.net.trainable_variables}
    self.assertNotIn(id(self.alphas.logits), ids)

  def test_one_hot_mixing_equals_single_path(self):
    choices = [2, 0, 3]
    weights = np.zeros((3, 4), np.float32)
    weights[range(3), choices] = 1.0
    mixed = self.net.mixed_forward(self.x, tf.constant(weights), False)
    single = self.net(self.x, path=choices)
    self.assertAllClose(mixed, single, atol=1e-5)

  @parameterized.parameters(([1, 2, 0],), ([3, 0, 3],), ([0, 1, 2],))
  def test_single_path_matches_standalone_model_with_same_weights(self, choices):
    for v in self.net.variables:     # branches start at zero: give them weights
      v.assign(tf.random.uniform(v.shape, 0.5, 1.5))
    geno = genotype_lib.from_choices(self.space, choices)
    model = geno.build(self.space, SHAPE, 10)
    src = {"stem": self.net.stem, "head": self.net.head}
    for i, (l, c) in enumerate(zip(self.net.searchable, choices)):
      src[f"layer{i}_{self.space.candidates()[i][c]}"] = l.candidate_ops[str(c)]
      src[f"layer{i}_shortcut"] = l.shortcut
    dst = [l for l in model.layers if l.weights]
    self.assertNotEmpty(dst)
    for d in dst:
      d.set_weights(src[d.name].get_weights())
    self.assertAllClose(model(self.x), self.net(self.x, path=choices),
                        atol=1e-4)

  def test_residual_paths_start_as_one_network(self):
    """Every op branch that ends in BN starts at zero: such paths compute the same
    function, the shortcuts' (what lets shared weights learn across paths).
    Pooling branches (2) have no BN and start as pool(x)."""
    first = self.net(self.x, training=True, path=[0, 0, 0])
    for path in ([1, 0, 3], [3, 3, 3], [0, 1, 1]):
      self.assertAllClose(first, self.net(self.x, training=True, path=path),
                          atol=1e-6)
    plain = ss.SearchSpace("plain", 8, self.space.stages, self.space.ops)
    net = Supernet(plain, ss.Subspace.full(plain), SHAPE, 10)
    self.assertNotAllClose(net(self.x, training=True, path=[0, 0, 0]),
                           net(self.x, training=True, path=[1, 0, 3]))
    self.assertNotAllClose(first, self.net(self.x, training=True, path=[2, 0, 0]))

  def test_prune_keeps_survivors(self):
    before = {id(v): v.numpy() for v in self.net.variables}
    n_before = len(self.net.trainable_variables)
    self.net.apply_subspace(self.net.subspace.without(1, 0))
    self.assertEqual(self.net.subspace.alive[1], (1, 2, 3))
    self.assertLess(len(self.net.trainable_variables), n_before)
    for v in self.net.variables:
      self.assertAllEqual(v.numpy(), before[id(v)])
    # The pruned op gets no weight in the softmax.
    probs = self.alphas.probs(self.net.subspace.mask(self.space))
    self.assertEqual(float(probs[1, 0]), 0.0)
    self.assertAllClose(tf.reduce_sum(probs, -1), tf.ones(3))

  def test_focused_sets_aside_and_restores(self):
    """Inside `focused`, a training step trains only the slice; at exit every op
    is back with the weights it had (the set-aside ones untouched)."""
    before = {v.ref(): v.numpy() for v in self.net.variables}
    n_all = len(self.net.trainable_variables)
    part = ss.Subspace(((0, 2), (1,), (1, 3)))
    with self.net.focused(part):
      self.assertEqual(self.net.subspace, part)
      inside = {v.ref() for v in self.net.variables}
      self.assertLess(len(self.net.trainable_variables), n_all)
      weights = tf.constant(part.mask(self.space))
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(self.net.mixed_forward(self.x, weights, True) ** 2)
      grads = tape.gradient(loss, self.net.trainable_variables)
      for v, g in zip(self.net.trainable_variables, grads):
        if g is not None:
          v.assign_sub(0.1 * g)
    self.assertEqual(self.net.subspace, ss.Subspace.full(self.space))
    self.assertLen(self.net.trainable_variables, n_all)
    outside = [v for v in self.net.variables if v.ref() not in inside]
    self.assertNotEmpty(outside)
    for v in outside:
      self.assertAllEqual(v.numpy(), before[v.ref()])
    self.assertTrue(any(not np.array_equal(v.numpy(), before[v.ref()])
                        for v in self.net.trainable_variables if v.ref() in inside))

  def test_focused_refuses_pruned_candidates(self):
    self.net.apply_subspace(self.net.subspace.without(1, 0))
    with self.assertRaisesRegex(ValueError, "not alive"):
      with self.net.focused(ss.Subspace(((0,), (0,), (0,)))):
        pass
    self.assertEqual(self.net.subspace.alive[0], (0, 1, 2, 3))

  def test_uniform_alphas_entropy(self):
    probs = self.alphas.probs(ss.Subspace.full(self.space).mask(self.space))
    self.assertAllClose(alphas_lib.entropy(probs.numpy()), np.log(4) * np.ones(3),
                        atol=1e-4)

  def test_gumbel_weights_are_distributions(self):
    mask = ss.Subspace(((0, 1), (2,), (0, 3))).mask(self.space)
    w = self.alphas.mixing_weights(mask, 0.5, gumbel=True,
                                   seed=tf.constant([1, 2], tf.int64))
    self.assertAllClose(tf.reduce_sum(w, -1), tf.ones(3))
    self.assertAllEqual(tf.cast(w > 0, tf.float32) * (1 - mask), tf.zeros_like(w))


class GenotypeTest(tf.test.TestCase):

  def test_json_round_trip_and_build(self):
    space = ss.load("tiny")
    geno = genotype_lib.Genotype("tiny", ("conv_k3", "skip", "maxpool_k3"))
    again = genotype_lib.Genotype.from_json(geno.to_json())
    self.assertEqual(again, geno)
    model = geno.build(space, SHAPE, 10)
    self.assertEqual(model(tf.zeros((2,) + SHAPE)).shape, (2, 10))

  def test_derive_skips_zero_and_pruned(self):
    space = ss.SearchSpace("z", 4, (ss.Stage(4, 1, 2),), ("zero", "skip", "conv_k3"))
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    sub = ss.Subspace(((0, 1, 2), (0, 1)))
    self.assertEqual(genotype_lib.derive(space, sub, probs).ops, ("skip", "skip"))

  def test_malformed(self):
    with self.assertRaisesRegex(Exception, "malformed genotype"):
      genotype_lib.Genotype.from_json('{"ops": 3}')


if __name__ == "__main__":
  tf.test.main()
