"""The cost term: FLOPs that agree with the final model's, TuNAS' absolute reward,
and a DNAS alpha loss that pulls the expected FLOPs (or latency) towards the target."""
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import dnas_trainer, genotype, memory_model
from radars_tf import search_space as ss
from radars_tf.cost_objective import CostObjective
from radars_tf.latency_table import LatencyTable
from radars_tf.supernet import Supernet

SHAPE = (28, 28, 1)


def extreme_choices(obj, space, pick):
  """Per layer, the candidate `pick` (np.argmin/argmax) of FLOPs."""
  return [int(pick([obj.flops[l, c] for c in range(len(cands))]))
          for l, cands in enumerate(space.candidates())]


class CostObjectiveTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.space = ss.load("large")

  def test_flops_are_the_final_models(self):
    rng = np.random.default_rng(0)
    obj = CostObjective.for_space(self.space, SHAPE, 10)
    for _ in range(3):
      choices = [int(rng.integers(len(c))) for c in self.space.candidates()]
      geno = genotype.from_choices(self.space, choices)
      self.assertAlmostEqual(
          obj.mflops(choices),
          2 * memory_model.model_macs(self.space, geno.ops, SHAPE, 10) / 1e6,
          places=6)

  @parameterized.parameters(0.5, 1.0, 2.0)
  def test_absolute_reward(self, ratio):
    choices = [0] * len(self.space.candidates())
    mflops = CostObjective.for_space(self.space, SHAPE, 10).mflops(choices)
    obj = CostObjective.for_space(self.space, SHAPE, 10, target_mflops=mflops / ratio,
                                  cost_beta=0.07)
    self.assertAlmostEqual(obj.penalty(choices), 0.07 * abs(ratio - 1), places=6)

  def test_normalized_weight_costs_the_largest_architecture_its_weight(self):
    obj = CostObjective.for_space(self.space, SHAPE, 10, cost_weight=0.3)
    self.assertAlmostEqual(obj.penalty(extreme_choices(obj, self.space, np.argmax)),
                           0.3, places=5)

  def test_expected_penalty_of_one_path_is_its_penalty(self):
    obj = CostObjective.for_space(self.space, SHAPE, 10, cost_weight=0.1,
                                  target_mflops=20.0)
    choices = [int(i % len(c)) for i, c in enumerate(self.space.candidates())]
    onehot = np.zeros(obj.flops.shape, np.float32)
    onehot[np.arange(len(choices)), choices] = 1.0
    self.assertAllClose(obj.expected_penalty(tf.constant(onehot)),
                        obj.penalty(choices), rtol=1e-5)

  @parameterized.parameters(0.5, 1.0, 2.0)
  def test_latency_target_absolute_reward(self, ratio):
    table = synthetic_latency(self.space)
    choices = [int(i % len(c)) for i, c in enumerate(self.space.candidates())]
    target = table.predict_ms(choices) / ratio
    obj = CostObjective.for_space(self.space, SHAPE, 10, latency=table, target_ms=target)
    self.assertAlmostEqual(obj.penalty(choices), 0.07 * abs(ratio - 1), places=6)
    onehot = np.zeros(obj.flops.shape, np.float32)
    onehot[np.arange(len(choices)), choices] = 1.0
    self.assertAllClose(obj.expected_penalty(tf.constant(onehot)),
                        obj.penalty(choices), rtol=1e-5)

  def test_latency_target_without_a_table_is_refused(self):
    with self.assertRaisesRegex(ValueError, "latency table"):
      CostObjective.for_space(self.space, SHAPE, 10, target_ms=50.0)

  @parameterized.product(pick=(np.argmin, np.argmax), kind=("mflops", "ms"))
  def test_dnas_moves_the_expected_cost_towards_the_target(self, pick, kind):
    tf.keras.utils.set_random_seed(0)
    space = ss.load("tiny")
    obj0 = CostObjective.for_space(space, SHAPE, 10)
    if kind == "mflops":
      cost, fixed = obj0.flops / 1e6, obj0.fixed_flops / 1e6
      target = obj0.mflops(extreme_choices(obj0, space, pick))
      obj = CostObjective.for_space(space, SHAPE, 10, target_mflops=target,
                                    cost_beta=5.0)
    else:     # a latency that FLOPs do not order: the pull must follow the table
      table = synthetic_latency(space)
      cost, fixed = table.op_ms, table.base_ms
      target = fixed + sum(float(row[pick(row)]) for row in cost)
      obj = CostObjective.for_space(space, SHAPE, 10, latency=table, target_ms=target,
                                    cost_beta=5.0)
    net = Supernet(space, ss.Subspace.full(space), SHAPE, 10)
    alphas = alphas_lib.Alphas(space)
    trainer = dnas_trainer.DnasTrainer(
        net, alphas, tf.distribute.get_strategy(), 16,
        dnas_trainer.DnasHParams(alpha_lr=0.05), 20, obj)
    mask = net.subspace.mask(space)

    def expected_cost():
      return fixed + float((alphas.probs(mask).numpy() * cost).sum())
    before = expected_cost()
    ds = tf.data.Dataset.from_tensors(
        (tf.random.normal((16,) + SHAPE), tf.zeros((16,), tf.int32))).repeat()
    train, val = iter(ds), iter(ds)
    for _ in range(20):
      trainer.train_step(train, val)
    after = expected_cost()
    self.assertLess(abs(after - target), abs(before - target) * 0.8,
                    f"expected {kind} {before:.3f} -> {after:.3f}, target {target:.3f}")


def synthetic_latency(space):
  """A table whose per-layer order is unrelated to FLOPs (fixed seed)."""
  rng = np.random.default_rng(3)
  op_ms = rng.uniform(1.0, 20.0, (space.num_layers, max(map(len, space.candidates()))))
  return LatencyTable(op_ms, 30.0, (), 0.0)


if __name__ == "__main__":
  tf.test.main()
