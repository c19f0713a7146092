"""DNAS on real Fashion-MNIST: alphas move, validation loss falls, and the derived
genotype builds and trains."""
import os

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import data, dnas_trainer, final_training, genotype, training
from radars_tf import search_space as ss
from radars_tf.datasets import fashion_mnist_debian
from radars_tf.supernet import Supernet


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class DnasOnFashionMnistTest(tf.test.TestCase):

  def tiny_supernet(self, max_train: int, max_test: int):
    """Seeded: (source, the tiny space, the default strategy, its full supernet,
    alphas)."""
    tf.keras.utils.set_random_seed(0)
    src = data.DataSource("fashion_mnist", max_train_examples=max_train,
                          max_test_examples=max_test)
    space = ss.load("tiny")
    net = Supernet(space, ss.Subspace.full(space), src.input_shape, 10)
    return (src, space, tf.distribute.get_strategy(), net,
            alphas_lib.Alphas(space))

  def test_alphas_move_and_val_loss_falls(self):
    src, space, strategy, net, alphas = self.tiny_supernet(4096, 512)
    trainer = dnas_trainer.DnasTrainer(
        net, alphas, strategy, 64, dnas_trainer.DnasHParams(alpha_lr=3e-3), 60)
    mask = net.subspace.mask(space)
    probs_before = alphas.probs(mask).numpy()
    val = src.dataset("search_val", 128, training=False).take(8)

    def val_loss():   # the mixed supernet under softmax alphas
      return np.mean([float(tf.reduce_mean(training.per_example_loss(
          y, net.mixed_forward(x, alphas.probs(mask), False)))) for x, y in val])
    loss_before = val_loss()
    train_it = iter(src.distributed(strategy, "search_train", 64, training=True))
    val_it = iter(src.distributed(strategy, "search_val", 64, training=True))
    for _ in range(60):
      metrics = trainer.train_step(train_it, val_it)
    self.assertTrue(np.isfinite(metrics["train_loss"]))
    loss_after = val_loss()
    probs_after = alphas.probs(mask).numpy()
    self.assertLess(loss_after, loss_before - 0.3)
    self.assertGreater(np.abs(probs_after - probs_before).max(), 0.01)
    self.assertLess(alphas_lib.entropy(probs_after).mean(),
                    alphas_lib.entropy(probs_before).mean())

    geno = genotype.derive(space, net.subspace, probs_after)
    _, result = final_training.train_and_evaluate(
        geno, space, src, strategy, 64, epochs=1, learning_rate=0.05, verbose=0)
    self.assertGreater(result.test_accuracy, 0.5)
    self.assertGreater(result.params, 0)

  def test_a_slice_trains_alone_then_the_whole_supernet(self):
    """DNAS inside `Supernet.focused` (bench_ranking's slices) moves only the
    slice's alphas and weights; after it the whole supernet steps again."""
    src, space, strategy, net, alphas = self.tiny_supernet(512, 128)
    train_it = iter(src.distributed(strategy, "search_train", 16, training=True))
    val_it = iter(src.distributed(strategy, "search_val", 16, training=True))
    part = ss.Subspace(((0, 1), (2, 3), (0, 3)))
    logits = alphas.logits.numpy()
    before = {v.ref(): v.numpy() for v in net.variables}
    with net.focused(part):
      inside = {v.ref() for v in net.variables}
      trainer = dnas_trainer.DnasTrainer(net, alphas, strategy, 16,
                                         dnas_trainer.DnasHParams(), 3)
      for _ in range(3):
        trainer.train_step(train_it, val_it)
    # (The alpha optimizer's weight decay moves the others by ~1e-8.)
    moved = np.abs(alphas.logits.numpy() - logits) > 1e-5
    self.assertTrue(np.array_equal(moved, part.mask(space) > 0))
    outside = [v for v in net.variables if v.ref() not in inside]
    self.assertNotEmpty(outside)
    for v in outside:
      self.assertAllEqual(v.numpy(), before[v.ref()])
    trainer.rebuild()        # as a DNAS round does: the set-aside ops are back
    logits = alphas.logits.numpy()
    metrics = trainer.train_step(train_it, val_it)
    self.assertTrue(np.isfinite(metrics["train_loss"]))
    self.assertTrue((np.abs(alphas.logits.numpy() - logits) > 1e-5).all())
    self.assertTrue(any(not np.array_equal(v.numpy(), before[v.ref()])
                        for v in outside if v.trainable))


class DnasHParamsTest(absltest.TestCase):

  def test_temperature_schedule(self):
    hp = dnas_trainer.DnasHParams(tau_start=5.0, tau_end=0.5)
    self.assertAlmostEqual(dnas_trainer.temperature(hp, 0, 100), 5.0)
    self.assertAlmostEqual(dnas_trainer.temperature(hp, 100, 100), 0.5)
    self.assertAlmostEqual(dnas_trainer.temperature(hp, 50, 100), np.sqrt(2.5))


if __name__ == "__main__":
  absltest.main()
