"""The latency table: one measurement per op and layer shape, anchored on a measured
network, cached per conditions, continued after an interruption."""
import json
import os
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from radars_tf import latency_table
from radars_tf import search_space as ss

SHAPE = (12, 12, 1)
BATCH = 2


class Interrupt(Exception):
  pass


class LatencyTableTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    # Two layers of the first stage share a shape, so they share measurements.
    self.space = ss.SearchSpace("tiny2", 8, (ss.Stage(8, 1, 2), ss.Stage(16, 2, 2)),
                                ("conv_k3", "sepconv_k3", "maxpool_k3", "skip"),
                                residual=True)
    self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    self.calls = 0
    self.real_op_step = latency_table.op_step

  def counting_op_step(self, fail_after=None):
    def op_step(layer, x):
      if fail_after is not None and self.calls >= fail_after:
        raise Interrupt()
      self.calls += 1
      return self.real_op_step(layer, x)
    return mock.patch.object(latency_table, "op_step", op_step)

  def load(self, batch=BATCH):
    return latency_table.load_or_measure(self.space, SHAPE, 10, batch, self.dir,
                                         steps=1)

  def signatures(self):
    return {(op, s.cin, s.cout, s.stride, s.hw) for s in self.space.layers(SHAPE[0])
            for op in s.candidates}

  def test_every_candidate_measured_once_per_layer_shape(self):
    with self.counting_op_step():
      table = self.load()
    self.assertEqual(self.calls, len(self.signatures()))
    self.assertLess(self.calls, sum(len(c) for c in self.space.candidates()))
    self.assertEqual(table.op_ms.shape, (4, 4))
    self.assertAllEqual(table.op_ms[0], table.op_ms[1])
    self.assertTrue(np.all(table.op_ms > 0))

  def test_reference_network_predicted_as_measured(self):
    table = self.load()
    layers = self.space.layers(SHAPE[0])
    choices = [s.candidates.index(op) for s, op in zip(layers, table.reference)]
    self.assertEqual(table.reference, ("skip",) * 4)
    self.assertAllClose(table.predict_ms(choices), table.reference_ms)
    onehot = np.zeros(table.op_ms.shape, np.float32)
    onehot[np.arange(4), [1, 0, 2, 3]] = 1.0
    self.assertAllClose(table.expected_ms(tf.constant(onehot)),
                        table.predict_ms([1, 0, 2, 3]), rtol=1e-5)

  def test_a_second_load_measures_nothing(self):
    first = self.load()
    with self.counting_op_step(fail_after=0), mock.patch.object(
        latency_table, "measure_network_ms", side_effect=Interrupt):
      second = self.load()
    self.assertAllEqual(first.op_ms, second.op_ms)
    self.assertEqual(first.base_ms, second.base_ms)

  def test_other_conditions_are_measured_apart(self):
    self.load()
    with self.counting_op_step():
      self.load(batch=2 * BATCH)
    self.assertEqual(self.calls, len(self.signatures()))
    self.assertLen(os.listdir(self.dir), 2)

  def test_an_interrupted_measurement_continues(self):
    with self.counting_op_step(fail_after=5), self.assertRaises(Interrupt):
      self.load()
    self.calls = 0
    with self.counting_op_step():
      self.load()
    self.assertEqual(self.calls, len(self.signatures()) - 5)

  def test_a_damaged_cache_is_measured_again(self):
    self.load()
    (path,) = [os.path.join(self.dir, f) for f in os.listdir(self.dir)]
    with open(path, "w") as f:
      f.write("{not json")
    notes = []
    with self.counting_op_step():
      table = latency_table.load_or_measure(
          self.space, SHAPE, 10, BATCH, self.dir, steps=1,
          progress=mock.Mock(note=notes.append))
    self.assertEqual(self.calls, len(self.signatures()))
    self.assertLen(notes, 2)
    self.assertIn("unreadable", notes[0])
    with open(path) as f:
      self.assertEqual(len(json.load(f)["op_ms"]), self.calls)
    self.assertTrue(np.all(table.op_ms > 0))


if __name__ == "__main__":
  absltest.main()
