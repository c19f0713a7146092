"""A smoke search under MirroredStrategy with two logical CPU devices against a
one-device run with the same seed and the same per-replica batch."""
import dataclasses
import os

from absl.testing import absltest
import tensorflow as tf

from radars_tf import distribution

distribution.configure_devices(logical_cpus=2)   # before any op runs

from radars_tf import data, search_loop, search_methods  # pylint: disable=g-import-not-at-top,wrong-import-position
from radars_tf import search_space as ss  # pylint: disable=wrong-import-position
from radars_tf.config import RunConfig  # pylint: disable=wrong-import-position
from radars_tf.datasets import fashion_mnist_debian  # pylint: disable=wrong-import-position
from radars_tf.summaries import Progress, Summaries  # pylint: disable=wrong-import-position

SMOKE = RunConfig(space="tiny", max_train_examples=512, batch_size=16,
                  memory_budget_mb=8, warmup_steps=4, rl_iterations_per_phase=2,
                  min_samples=2, max_samples=4, prune_confidence=1.0,
                  episodes_per_iteration=4, rewards_per_candidate=0,
                  path_train_steps=4,
                  dnas_rounds=2, dnas_steps_per_round=5, seed=5)


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class MirroredSearchTest(tf.test.TestCase):

  def search(self, strategy, batch_size):
    cfg = dataclasses.replace(SMOKE, batch_size=batch_size)
    source = data.DataSource("fashion_mnist", max_train_examples=512, seed=5)
    ctx = search_loop.SearchContext(cfg, ss.load("tiny"), source, strategy,
                                    Summaries(None), Progress(quiet=True))
    return search_methods.RadarsSearch(ctx).run()

  def test_fits_and_prunes_in_the_same_phases_as_one_device(self):
    one = self.search(tf.distribute.get_strategy(), 16)
    two = self.search(distribution.get_strategy("mirrored"), 32)   # 16 per replica

    for out in (one, two):
      self.assertLessEqual(out.estimate_mb, SMOKE.memory_budget_mb)
    # The budget is per replica and the estimate uses the per-replica batch: both
    # runs start pruning from the same estimate of the whole space, in the first
    # RL phase, until the same budget fits.
    self.assertNotEmpty(one.decisions)
    self.assertNotEmpty(two.decisions)
    self.assertEqual(one.decisions[0].estimate_before_mb,
                     two.decisions[0].estimate_before_mb)
    self.assertEqual((one.decisions[0].round, one.decisions[0].phase),
                     (two.decisions[0].round, two.decisions[0].phase))
    # Which op goes, and so how many phases it takes to fit, is not compared: each
    # replica normalizes (BN) and scores its half batch, so the evidence differs
    # for real and an agreement threshold would pass at random. Identical
    # decisions on every worker of one run are checked by multi_worker_test.


if __name__ == "__main__":
  absltest.main()
