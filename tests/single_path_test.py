"""single_path training: compiled per-op steps match op-by-op eager steps, only the
path's weights move, the global norm clip holds, and pruning drops stale updates."""
from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from radars_tf import search_space as ss
from radars_tf import single_path
from radars_tf.supernet import Supernet

SHAPE = (12, 12, 1)


def _snapshot(net):
  return {v.ref(): v.numpy() for v in net.variables}


class SinglePathTest(tf.test.TestCase, parameterized.TestCase):

  def _trainer(self, lr=0.05, compiled=True):
    tf.keras.utils.set_random_seed(3)
    space = ss.load("tiny")
    net = Supernet(space, ss.Subspace.full(space), SHAPE, 10)
    trainer = single_path.SinglePathTrainer(net, tf.distribute.get_strategy(), 8,
                                            lr)
    trainer.compiled = net.compile_ops = compiled
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((8,) + SHAPE), tf.float32)
    y = tf.constant(rng.integers(0, 10, 8), tf.int32)
    return net, trainer, iter(tf.data.Dataset.from_tensors((x, y)).repeat())

  def test_compiled_steps_match_eager_steps(self):
    results = []
    for compiled in (False, True):
      net, trainer, it = self._trainer(compiled=compiled)
      losses = [trainer.train_path(it, path) for path in ([1, 2, 0], [1, 0, 3]) * 2]
      results.append((losses, [v.numpy() for v in net.variables]))
    self.assertAllClose(results[0][0], results[1][0], rtol=1e-4)
    for a, b in zip(results[0][1], results[1][1]):
      self.assertAllClose(a, b, rtol=1e-4, atol=1e-5)

  @parameterized.parameters(True, False)
  def test_only_the_path_moves(self, compiled):
    net, trainer, it = self._trainer(compiled=compiled)
    before = _snapshot(net)
    path = [1, 2, 0]
    for _ in range(2):    # branches start at zero scale: the first step moves it
      trainer.train_path(it, path)
    on_path = {v.ref() for l, c in zip(net.searchable, path)
               for v in l.candidate_ops[str(c)].trainable_variables}
    on_path |= {v.ref() for l in net.searchable if l.shortcut
                for v in l.shortcut.trainable_variables}
    for layer in net.searchable:
      for v in layer.trainable_variables:
        moved = not np.array_equal(v.numpy(), before[v.ref()])
        self.assertEqual(moved, v.ref() in on_path, v.name)

  @parameterized.parameters(True, False)
  def test_update_is_clipped_to_the_global_norm(self, compiled):
    self.enter_context(mock.patch.object(single_path, "CLIP_NORM", 1e-3))
    net, trainer, it = self._trainer(lr=1.0, compiled=compiled)
    trainer.opt.momentum = 0.0   # one plain SGD step: the change is lr * grad
    path = [1, 2, 0]
    variables = [v for _, vs in trainer._groups(path) for v in vs]  # pylint: disable=protected-access
    before = [v.numpy() for v in variables]
    trainer.train_path(it, path)
    step = np.sqrt(sum(np.sum((v.numpy() - b) ** 2)
                       for v, b in zip(variables, before)))
    self.assertAllClose(step, 1e-3, rtol=1e-2)

  def test_pruning_then_training_works(self):
    net, trainer, it = self._trainer()
    trainer.train_path(it, [1, 2, 0])
    net.apply_subspace(net.subspace.without(1, 2))
    trainer.rebuild()
    self.assertTrue(np.isfinite(trainer.train_path(it, [1, 3, 0])))
    with self.assertRaises(ValueError):
      trainer.train_path(it, [1, 2, 0])


class ZeroOpTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(False, True)
  def test_a_path_through_zero_trains_what_follows_it(self, compiled):
    tf.keras.utils.set_random_seed(3)
    space = ss.SearchSpace("z", 4, (ss.Stage(4, 1, 3),), ("zero", "conv_k3"))
    net = Supernet(space, ss.Subspace.full(space), SHAPE, 10)
    trainer = single_path.SinglePathTrainer(net, tf.distribute.get_strategy(), 8,
                                            0.05)
    trainer.compiled = net.compile_ops = compiled
    x = tf.ones((8,) + SHAPE)
    y = tf.zeros((8,), tf.int32)
    it = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    first = net.searchable[0].candidate_ops["1"]
    last = net.searchable[2].candidate_ops["1"]
    before = [v.numpy() for v in first.trainable_variables + last.trainable_variables]
    loss = trainer.train_path(it, [1, 0, 1])    # layer 1 is `zero`
    self.assertTrue(np.isfinite(loss))
    n = len(first.trainable_variables)
    for v, b in zip(first.trainable_variables, before[:n]):
      self.assertAllEqual(v.numpy(), b)           # cut off: no gradient, no step
    self.assertTrue(any(np.any(v.numpy() != b) for v, b in
                        zip(last.trainable_variables, before[n:])))


if __name__ == "__main__":
  tf.test.main()
