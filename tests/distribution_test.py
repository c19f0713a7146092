"""Strategies on CPU: creation errors, and a DNAS step under MirroredStrategy with
two logical CPU devices agreeing with the default strategy."""
import json
import os

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from radars_tf import distribution

distribution.configure_devices(logical_cpus=2)   # before any op runs

from radars_tf import alphas as alphas_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from radars_tf import dnas_trainer  # pylint: disable=wrong-import-position
from radars_tf import search_space as ss  # pylint: disable=wrong-import-position
from radars_tf.errors import UserError  # pylint: disable=wrong-import-position
from radars_tf.supernet import Supernet  # pylint: disable=wrong-import-position


def dnas_run(strategy, steps=3):
  """Alphas after `steps` DNAS steps on fixed data, from fixed initial weights."""
  tf.keras.utils.set_random_seed(0)
  space = ss.load("tiny")
  with strategy.scope():
    net = Supernet(space, ss.Subspace.full(space), (8, 8, 1), 10)
    alphas = alphas_lib.Alphas(space)
  trainer = dnas_trainer.DnasTrainer(net, alphas, strategy, 16,
                                     dnas_trainer.DnasHParams(alpha_lr=0.01), steps)
  rng = np.random.default_rng(0)
  # The batch's two halves are equal, so each replica's BN statistics equal the
  # global batch's: otherwise per-replica BN makes the two runs differ for real.
  x = np.tile(rng.standard_normal((8, 8, 8, 1)).astype(np.float32), (2, 1, 1, 1))
  y = np.tile(rng.integers(0, 10, 8).astype(np.int32), 2)
  ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
  it = iter(strategy.experimental_distribute_dataset(ds))
  for _ in range(steps):
    metrics = trainer.train_step(it, it)
  return alphas.logits.numpy(), metrics


class StrategyTest(tf.test.TestCase):

  def test_mirrored_uses_two_cpus(self):
    strategy = distribution.get_strategy("mirrored")
    self.assertEqual(strategy.num_replicas_in_sync, 2)
    self.assertEqual(distribution.check_batch(64, strategy), 32)
    with self.assertRaisesRegex(UserError, "not divisible by the 2 replicas"):
      distribution.check_batch(33, strategy)

  def test_mirrored_dnas_matches_default(self):
    a1, m1 = dnas_run(tf.distribute.get_strategy())
    a2, m2 = dnas_run(distribution.get_strategy("mirrored"))
    # Same global batch, loss scaled by it: equal up to float summation order.
    self.assertAllClose(a1, a2, atol=1e-4)
    self.assertAllClose(m1["train_loss"], m2["train_loss"], atol=1e-4)

  def test_export_of_a_distributed_model_is_plain_and_equal(self):
    """The exported files hold plain variables and compute what the mirrored
    model does, BatchNorm's on-read statistics included (read as the replicas'
    mean)."""
    from radars_tf import final_training  # pylint: disable=import-outside-toplevel
    from radars_tf.genotype import from_choices  # pylint: disable=import-outside-toplevel
    space = ss.load("tiny")
    strategy = distribution.get_strategy("mirrored")
    with strategy.scope():
      model = from_choices(space, [0] * len(space.candidates())).build(
          space, (8, 8, 1), 10)
    for v in model.non_trainable_weights:          # differ per replica
      for i, part in enumerate(v.values):
        part.assign(tf.fill(v.shape, 0.5 + i))
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype(np.float32)
    expected = model(x, training=False).numpy()
    paths = final_training.export(model, self.create_tempdir().full_path)
    loaded = tf.keras.models.load_model(paths["keras"])
    self.assertFalse(any(isinstance(v, tf.distribute.DistributedValues)
                         for v in loaded.weights))
    self.assertAllClose(loaded(x, training=False), expected, atol=1e-5)
    serve = tf.saved_model.load(paths["saved_model"]).signatures["serving_default"]
    self.assertAllClose(list(serve(tf.constant(x)).values())[0], expected, atol=1e-5)

  def test_bad_tf_config(self):
    os.environ["TF_CONFIG"] = "{not json"
    try:
      with self.assertRaisesRegex(UserError, "TF_CONFIG does not parse"):
        distribution.get_strategy("multi_worker")
      os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": ["a:1"]},
                                            "task": {"type": "worker", "index": 3}})
      with self.assertRaisesRegex(UserError, "TF_CONFIG does not parse"):
        distribution.get_strategy("multi_worker")
    finally:
      del os.environ["TF_CONFIG"]

  def test_missing_tf_config(self):
    os.environ.pop("TF_CONFIG", None)
    with self.assertRaisesRegex(UserError, "needs TF_CONFIG"):
      distribution.get_strategy("multi_worker")

  def test_unknown(self):
    with self.assertRaisesRegex(UserError, "unknown strategy"):
      distribution.get_strategy("warp")


if __name__ == "__main__":
  absltest.main()
