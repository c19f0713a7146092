"""Op registry: every op builds, has the right output shape at stride 1 and 2, and
its counted parameters match what Keras builds."""
from absl.testing import parameterized
import tensorflow as tf

from radars_tf import ops, search_space
from radars_tf.errors import UserError

ALL_OPS = sorted(set(search_space.LARGE_OPS + search_space.DARTS_OPS))


class OpsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.product(spec=ALL_OPS, stride=(1, 2), cin=(8, 12))
  def test_shape_and_params(self, spec, stride, cin):
    layer = ops.OpLayer(spec, cin, 12, stride)
    y = layer(tf.random.normal((2, 9, 9, cin)), training=True)
    self.assertEqual(y.shape, (2, 5 if stride == 2 else 9, 5 if stride == 2 else 9, 12))
    cost = ops.op_cost(spec, 9, cin, 12, stride)
    self.assertEqual(cost.params, layer.count_params())
    self.assertEqual(cost.trainable,
                     sum(int(tf.size(v)) for v in layer.trainable_variables))

  def test_zero_outputs_zeros(self):
    y = ops.OpLayer("zero", 4, 6, 2)(tf.ones((1, 4, 4, 4)))
    self.assertAllEqual(y, tf.zeros((1, 2, 2, 6)))

  def test_skip_is_identity_at_stride_1(self):
    x = tf.random.normal((1, 4, 4, 3))
    self.assertAllEqual(ops.OpLayer("skip", 3, 3, 1)(x), x)

  def test_mbconv_macs_closed_form(self):
    # e3 k3 on 8x8x4 -> 4: expand 64*4*12, depthwise 64*9*12, project 64*12*4.
    cost = ops.op_cost("mbconv_e3_k3", 8, 4, 4, 1)
    self.assertEqual(cost.macs, 64 * 4 * 12 + 64 * 9 * 12 + 64 * 12 * 4)

  @parameterized.parameters("conv_k9", "mbconv_e6", "nonsense", "sepconv_k4", "")
  def test_unknown_spec(self, spec):
    with self.assertRaisesRegex(UserError, f"unknown op '{spec}'"):
      ops.check_spec(spec)

  def test_stem_is_not_a_candidate(self):
    with self.assertRaisesRegex(UserError, "stem"):
      ops.check_spec("stem")


if __name__ == "__main__":
  tf.test.main()
