"""Input pipelines: mock TFDS data for CIFAR-10, real Fashion-MNIST offline."""
import gzip
import os
import shutil
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf
import tensorflow_datasets as tfds

from radars_tf import data
from radars_tf.datasets import fashion_mnist_debian
from radars_tf.errors import DataUnavailableError, UserError


class SplitsTest(parameterized.TestCase):

  @parameterized.parameters((60000, 0.5, 0, 30000, 30000), (60000, 0.1, 1000, 900, 100),
                            (10, 0.5, 0, 5, 5))
  def test_sizes(self, n, frac, limit, n_tr, n_val):
    s = data.make_splits(n, 100, frac, limit)
    self.assertEqual((s.num_search_train, s.num_search_val), (n_tr, n_val))
    self.assertEqual(s.num_train, n_tr + n_val)
    self.assertEqual(s.search_train, f"train[:{n_tr}]")
    self.assertEqual(s.search_val, f"train[{n_tr}:{n_tr + n_val}]")

  @parameterized.parameters(0.0, 1.0, -0.2)
  def test_bad_fraction(self, frac):
    with self.assertRaisesRegex(UserError, "val_fraction"):
      data.make_splits(100, 10, frac)

  def test_unknown_dataset(self):
    with self.assertRaisesRegex(UserError, "unknown dataset 'nonsense'"):
      data.dataset_spec("nonsense")


class CacheTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # imagenet_resized/32x32's train split: 3.9 GB as read (15.7 GB as float32).
      ("imagenet32_24gb", "imagenet_resized/32x32", 1281167, 24 << 30, True),
      ("imagenet32_8gb", "imagenet_resized/32x32", 1281167, 8 << 30, False),
      ("imagenet_224", "imagenet2012", 1281167, 24 << 30, False),
      ("fashion_mnist_1gb", "fashion_mnist", 60000, 1 << 30, True),
      ("fashion_mnist_100mb", "fashion_mnist", 60000, 100 << 20, False))
  def test_cache_only_what_fits(self, name, examples, available, fits):
    self.assertEqual(data.cache_fits(examples, data.dataset_spec(name), available),
                     fits)


class MockCifarTest(tf.test.TestCase):
  """TFDS' mock data in place of CIFAR-10 (no download here); the network probe
  that refuses an offline download early is told the homepage is reachable."""

  def setUp(self):
    super().setUp()
    patch = mock.patch.object(data, "reachable", return_value=True)
    patch.start()
    self.addCleanup(patch.stop)

  def test_cifar10_pipeline(self):
    with tfds.testing.mock_data(num_examples=40):
      src = data.DataSource("cifar10", data_dir=self.get_temp_dir(),
                            max_train_examples=40, max_test_examples=40)
      x, y = next(iter(src.dataset("search_train", 8, training=True)))
      self.assertEqual(x.shape, (8, 32, 32, 3))
      self.assertEqual(x.dtype, tf.float32)
      self.assertEqual(y.dtype, tf.int32)
      self.assertAllInRange(y, 0, 9)
      test = list(src.dataset("test", 16, training=False))
      self.assertEqual(sum(int(b[1].shape[0]) for b in test), src.splits.num_test)

  def test_cifar10_distributed(self):
    with tfds.testing.mock_data(num_examples=40):
      src = data.DataSource("cifar10", data_dir=self.get_temp_dir(),
                            max_train_examples=40)
      strategy = tf.distribute.get_strategy()
      x, _ = next(iter(src.distributed(strategy, "search_val", 4, True)))
      self.assertEqual(x.shape, (4, 32, 32, 3))


class RandomCropsAndFlipsTest(tf.test.TestCase):

  def test_each_crop_is_a_window_of_its_image_or_its_mirror(self):
    images = tf.reshape(tf.range(8 * 6 * 7 * 2, dtype=tf.float32), (8, 6, 7, 2))
    crops = data.random_crops_and_flips(images, 4).numpy()
    self.assertEqual(crops.shape, (8, 4, 4, 2))
    for image, crop in zip(images.numpy(), crops):
      windows = [image[y:y + 4, x:x + 4] for y in range(3) for x in range(4)]
      self.assertTrue(any((crop == w).all() or (crop == w[:, ::-1]).all()
                          for w in windows))

  def test_offsets_and_flips_are_drawn_per_image(self):
    image = tf.random.stateless_uniform((1, 12, 12, 1), (1, 2))
    crops = data.random_crops_and_flips(tf.repeat(image, 64, axis=0), 8).numpy()
    self.assertGreater(len({c.tobytes() for c in crops}), 8)
    windows = [image.numpy()[0, y:y + 8, x:x + 8] for y in range(5) for x in range(5)]
    mirrored = sum(any((c == w[:, ::-1]).all() for w in windows) for c in crops)
    self.assertBetween(mirrored, 1, 63)


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class FashionMnistTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.src = data.DataSource("fashion_mnist", val_fraction=0.5)

  def test_real_split_sizes(self):
    info = self.src.builder.info
    self.assertEqual(info.splits["train"].num_examples, 60000)
    self.assertEqual(info.splits["test"].num_examples, 10000)
    self.assertEqual(self.src.splits.num_search_train, 30000)
    self.assertEqual(self.src.splits.num_search_val, 30000)
    self.assertEqual(self.src.builder.name, "fashion_mnist_debian")

  def test_batches(self):
    x, y = next(iter(self.src.dataset("test", 64, training=False)))
    self.assertEqual(x.shape, (64, 28, 28, 1))
    self.assertEqual(x.dtype, tf.float32)
    self.assertAllInRange(y, 0, 9)
    # Normalized with the dataset's mean and std: roughly zero mean.
    self.assertAllInRange(tf.reduce_mean(x), -1.0, 1.0)

  def test_input_pipelines_read_disjoint_shares(self):
    src = data.DataSource("fashion_mnist", max_test_examples=100)

    def images(i):
      ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i)
      return [hash(x.tobytes()) for x, _ in
              tfds.as_numpy(src.dataset("test", 10, False, ctx).unbatch())]
    first, second = images(0), images(1)
    self.assertLen(first, 50)
    self.assertLen(second, 50)
    self.assertEmpty(set(first) & set(second))

  def test_uncached_pipeline_gives_the_same_batches(self):
    src = data.DataSource("fashion_mnist", max_train_examples=512)
    cached = next(iter(src.dataset("search_train", 32, True)))
    self.assertTrue(src.caches("search_train"))
    with mock.patch.object(data, "available_memory_bytes", return_value=0):
      self.assertFalse(src.caches("search_train"))
      uncached = next(iter(src.dataset("search_train", 32, True)))
    self.assertAllEqual(cached[0], uncached[0])
    self.assertAllEqual(cached[1], uncached[1])

  def test_without_autotuning_the_same_batches(self):
    src = data.DataSource("fashion_mnist", max_train_examples=512)
    tuned = src.dataset("search_train", 32, True, seed=3)
    fixed = src.dataset("search_train", 32, True, seed=3, autotune=False)
    self.assertNotEqual(tuned.options().autotune.enabled, False)
    self.assertFalse(fixed.options().autotune.enabled)
    for a, b in zip(next(iter(tuned)), next(iter(fixed))):
      self.assertAllEqual(a, b)

  def test_training_batches_are_split_images_normalized(self):
    src = data.DataSource("fashion_mnist", max_train_examples=512)
    raw = {x.tobytes() for x, _ in tfds.as_numpy(src.builder.as_dataset(
        split=src.splits.search_train, as_supervised=True))}
    for augment in (False, True):
      x, _ = next(iter(src.dataset("search_train", 32, True, augment=augment)))
      pixels = (x.numpy() * src.spec.std[0] + src.spec.mean[0]) * 255
      self.assertAllClose(pixels, pixels.round(), atol=1e-3)
      self.assertAllInRange(pixels.round(), 0, 255)
      images = {p.astype("uint8").tobytes() for p in pixels.round()}
      if augment:     # shifted (zeros enter) or flipped: rarely the image itself
        self.assertLess(len(images & raw), 32)
      else:
        self.assertLen(images & raw, 32)

  def test_search_parts_are_disjoint(self):
    def images(split):
      ds = self.src.builder.as_dataset(split=split, as_supervised=True)
      return {hash(x.tobytes()) for x, _ in tfds.as_numpy(ds)}
    src = data.DataSource("fashion_mnist", max_train_examples=2000)
    train = images(src.splits.search_train)
    val = images(src.splits.search_val)
    self.assertLen(train, 1000, "the first 1000 images are distinct")
    self.assertEmpty(train & val)

  def test_corrupted_file_is_refused(self):
    manual = os.path.join(self.get_temp_dir(), "manual")
    shutil.copytree(fashion_mnist_debian.DEBIAN_DIR, manual)
    path = os.path.join(manual, "t10k-labels-idx1-ubyte.gz")
    with gzip.open(path) as f:
      raw = bytearray(f.read())
    raw[-1] = (raw[-1] + 1) % 10        # one label changed, still a valid file
    os.chmod(path, 0o644)
    with gzip.open(path, "wb") as f:
      f.write(bytes(raw))
    with self.assertRaisesRegex(DataUnavailableError, "checksum"):
      data.prepare_builder("fashion_mnist", os.path.join(self.get_temp_dir(), "d"),
                           manual)


if __name__ == "__main__":
  absltest.main()
