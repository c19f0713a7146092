"""The final training recipe: warm-up then cosine learning rate, label smoothing."""
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from radars_tf import final_training


class RecipeTest(tf.test.TestCase, parameterized.TestCase):

  def test_warmup_then_cosine(self):
    lr = final_training.learning_rate_schedule(0.1, total_steps=100, warmup_steps=10)
    self.assertAllClose([float(lr(s)) for s in (0, 5, 10, 55, 100)],
                        [0.0, 0.05, 0.1, 0.05, 0.0], atol=1e-6)

  def test_no_warmup_is_cosine_from_the_peak(self):
    lr = final_training.learning_rate_schedule(0.1, total_steps=100)
    self.assertAllClose([float(lr(s)) for s in (0, 50, 100)], [0.1, 0.05, 0.0],
                        atol=1e-6)

  @parameterized.parameters(0.0, 0.1, 0.3)
  def test_label_smoothing(self, smoothing):
    logits = tf.constant([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    labels = tf.constant([0, 1])
    loss = final_training.smoothed_loss(3, smoothing)(labels, logits)
    target = np.full((2, 3), smoothing / 3) + np.eye(3)[[0, 1]] * (1 - smoothing)
    expected = -np.sum(target * tf.nn.log_softmax(logits).numpy(), axis=1)
    self.assertAllClose(np.mean(loss) if np.ndim(loss) == 0 else loss,
                        expected if np.ndim(loss) else expected.mean(), rtol=1e-5)


if __name__ == "__main__":
  tf.test.main()
