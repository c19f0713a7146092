"""training.accuracy counts every batch it is given, compiled or not, from a
tf.data iterator or a Python list of batches."""
from absl.testing import parameterized
import tensorflow as tf

from radars_tf import training


def always_class_0(x):
  return tf.one_hot(tf.zeros(tf.shape(x)[:1], tf.int32), 10)


class AccuracyTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.product(compiled=(False, True), source=("list", "tf.data"))
  def test_every_batch_counts(self, compiled, source):
    x = tf.zeros((4, 2))
    batches = [(x, tf.zeros(4, tf.int32)), (x, tf.ones(4, tf.int32)),
               (x, tf.ones(4, tf.int32))]
    it = (iter(batches) if source == "list" else
          iter(tf.data.Dataset.from_tensor_slices(
              (tf.zeros((12, 2)), tf.constant([0] * 4 + [1] * 8))).batch(4)))
    acc = training.accuracy(tf.distribute.get_strategy(), always_class_0, it, 3,
                            compiled)
    self.assertAllClose(acc, 1 / 3)


if __name__ == "__main__":
  tf.test.main()
