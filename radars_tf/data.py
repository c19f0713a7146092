"""tf.data input pipelines from TFDS: search train/val parts, full train, test.

The search splits the train split into two disjoint parts (weights / alphas and
rewards, as in DARTS); the final model trains on the whole train split and is
evaluated once on the test split. Batches are per replica, built through
`strategy.distribute_datasets_from_function`.
"""
import dataclasses
import functools
import os
import socket
from urllib import parse
from typing import Optional, Tuple

import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download import download_manager

from radars_tf.config import check_val_fraction
from radars_tf.datasets import fashion_mnist_debian
from radars_tf.errors import DataUnavailableError, UserError


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What the pipelines need to know about one supported dataset."""
  tfds_name: str
  image_size: int
  channels: int
  num_classes: int
  mean: Tuple[float, ...]
  std: Tuple[float, ...]
  augment: bool           # random crop (pad 4) + horizontal flip on train batches
  manual: bool = False    # files must be downloaded by hand (imagenet2012)
  resize_from: int = 0    # images are resized to this, then cropped to image_size


DATASETS = {
    "cifar10": DatasetSpec("cifar10", 32, 3, 10, (0.4914, 0.4822, 0.4465),
                           (0.2470, 0.2435, 0.2616), augment=True),
    "cifar100": DatasetSpec("cifar100", 32, 3, 100, (0.5071, 0.4865, 0.4409),
                            (0.2673, 0.2564, 0.2762), augment=True),
    "fashion_mnist": DatasetSpec("fashion_mnist", 28, 1, 10, (0.2860,), (0.3530,),
                                 augment=False),
    "mnist": DatasetSpec("mnist", 28, 1, 10, (0.1307,), (0.3081,), augment=False),
    "imagenet_resized/32x32": DatasetSpec(
        "imagenet_resized/32x32", 32, 3, 1000, (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225), augment=True),
    "imagenet2012": DatasetSpec("imagenet2012", 224, 3, 1000, (0.485, 0.456, 0.406),
                                (0.229, 0.224, 0.225), augment=True, manual=True,
                                resize_from=256),
}


def dataset_spec(name: str) -> DatasetSpec:
  if name not in DATASETS:
    raise UserError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")
  return DATASETS[name]


def reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
  try:
    socket.create_connection((host, port), timeout=timeout).close()
    return True
  except OSError:
    return False


def available_memory_bytes() -> int:
  """Memory the system can still give (MemAvailable), or all of it where that is
  not reported."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


# A part's raw images are cached in memory only when they take at most this share of
# the memory available: a run may cache its search parts and the full train split.
CACHE_SHARE = 0.25


def cache_fits(num_examples: int, spec: "DatasetSpec", available: int) -> bool:
  """Whether `num_examples` stored images (uint8, as read) fit the cache share."""
  side = spec.resize_from or spec.image_size
  return num_examples * side * side * spec.channels <= CACHE_SHARE * available


def prepare_builder(name: str, data_dir: Optional[str], manual_dir: Optional[str]):
  """The TFDS builder for `name`, prepared (downloaded and converted) if need be.

  Fashion-MNIST is read from Debian's package files when they are present (or
  from --manual_dir), verified against the digests the project records.
  """
  tfds.disable_progress_bar()
  spec = dataset_spec(name)
  debian_dir = manual_dir or fashion_mnist_debian.DEBIAN_DIR
  if name == "fashion_mnist" and os.path.isdir(debian_dir):
    builder = fashion_mnist_debian.FashionMnistDebian(data_dir=data_dir)
    manual_dir = debian_dir
  else:
    builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
  if builder.is_prepared():
    return builder
  hint = (f"place the prepared TFDS data under --data_dir, or run `tfds build "
          f"{spec.tfds_name}` on a machine with internet and copy it here")
  if spec.manual:
    hint = (f"download it by hand ({' '.join(builder.MANUAL_DOWNLOAD_INSTRUCTIONS.split())}) "
            "and pass --manual_dir")
  # TFDS retries a failed download 10 times with backoff (minutes when offline):
  # a machine that cannot reach the dataset's homepage is told at once.
  host = parse.urlparse(builder.info.homepage or "").hostname
  if host and not (spec.manual or manual_dir) and not reachable(host):
    raise DataUnavailableError(f"dataset {name} is not available offline (cannot "
                               f"reach {host}); {hint}")
  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=manual_dir, try_download_gcs=False))
  except download_manager.NonMatchingChecksumError as e:
    raise DataUnavailableError(
        f"dataset {name}: a data file does not match its recorded checksum, refused "
        f"({str(e).splitlines()[0][:200]})") from e
  except Exception as e:  # pylint: disable=broad-except
    # TFDS raises many types here (requests, urllib3, AssertionError for manual
    # data); all mean the same to a user: this data cannot be had here.
    raise DataUnavailableError(
        f"dataset {name} is not available offline ({type(e).__name__}); {hint}") from e
  return builder


@dataclasses.dataclass
class Splits:
  """Sizes and TFDS split strings for one run."""
  search_train: str
  search_val: str
  train: str
  test: str
  num_search_train: int
  num_search_val: int
  num_train: int
  num_test: int


def make_splits(num_train_available: int, num_test_available: int,
                val_fraction: float, max_train_examples: int = 0,
                max_test_examples: int = 0) -> Splits:
  """Disjoint search train/val parts of the train split, plus full train and test."""
  check_val_fraction(val_fraction)
  n = num_train_available
  if max_train_examples:
    n = min(n, max_train_examples)
  n_test = num_test_available
  if max_test_examples:
    n_test = min(n_test, max_test_examples)
  n_val = int(round(n * val_fraction))
  n_tr = n - n_val
  if n_tr < 1 or n_val < 1:
    raise UserError(f"too few training examples ({n}) to split into train/val parts")
  return Splits(search_train=f"train[:{n_tr}]", search_val=f"train[{n_tr}:{n}]",
                train=f"train[:{n}]", test=f"test[:{n_test}]",
                num_search_train=n_tr, num_search_val=n_val, num_train=n,
                num_test=n_test)


class DataSource:
  """One dataset: its spec, TFDS builder and the splits of this run."""

  def __init__(self, name: str, data_dir: Optional[str] = None,
               manual_dir: Optional[str] = None, val_fraction: float = 0.5,
               max_train_examples: int = 0, max_test_examples: int = 0,
               seed: int = 0):
    self.name = name
    self.spec = dataset_spec(name)
    self.builder = prepare_builder(name, data_dir, manual_dir)
    self.splits = make_splits(self._split_size("train"), self._split_size("test"),
                              val_fraction, max_train_examples, max_test_examples)
    self.seed = seed

  def _split_size(self, split: str) -> int:
    """From the dataset's metadata; counted when it has none (mock data)."""
    if split in self.builder.info.splits:
      return self.builder.info.splits[split].num_examples
    ds = self.builder.as_dataset(split=split)
    return int(ds.reduce(0, lambda n, _: n + 1))

  @property
  def input_shape(self):
    return (self.spec.image_size, self.spec.image_size, self.spec.channels)

  def num_examples(self, part: str) -> int:
    return getattr(self.splits, f"num_{part}")

  def dataset(self, part: str, batch_size: int, training: bool,
              input_context: Optional[tf.distribute.InputContext] = None,
              seed: Optional[int] = None, skip_batches: int = 0,
              augment: Optional[bool] = None,
              autotune: bool = True) -> tf.data.Dataset:
    """Batches of (normalized image, label) of one part.

    Args:
      part: 'search_train', 'search_val', 'train' or 'test'.
      batch_size: the per-replica batch size.
      training: shuffle, repeat, augment and drop the remainder (static shapes).
      input_context: shards the input across input pipelines when distributed.
      seed: the shuffle order (default: the run's seed).
      skip_batches: start after this many batches of the same stream (a resumed
        training sees the batches the interrupted one would have seen next).
      augment: random crop (padded) and flip of training batches; None: the
        dataset's default (DatasetSpec.augment).
      autotune: tf.data's autotuning thread; off for iterators dropped often (a
        search's units): dropping an iterator waits for that thread, which took
        up to 70 s at a unit's start on 2 busy cores (measured in searches).
        Without it, parallel maps run one call a core.
    """
    seed = self.seed if seed is None else seed
    split = getattr(self.splits, part)
    shards = input_context.num_input_pipelines if input_context else 1
    if shards > 1:         # each input pipeline reads only its share of examples
      split = tfds.even_splits(split, n=shards)[input_context.input_pipeline_id]
    ds = self.builder.as_dataset(split=split, as_supervised=True,
                                 shuffle_files=training,
                                 read_config=tfds.ReadConfig(
                                     shuffle_seed=seed, try_autocache=False))
    if self.caches(part, shards):
      ds = ds.cache()         # the images as read (uint8): 1/4 of decoded float32
    if self.spec.resize_from:    # images of every size: one size before batching
      ds = ds.map(self._resize, num_parallel_calls=tf.data.AUTOTUNE)
    if training:
      ds = ds.shuffle(min(self.num_examples(part), 10000), seed=seed,
                      reshuffle_each_iteration=True).repeat()
    # Images stay uint8 until batched (the shuffle buffer holds 1/4 of float32);
    # one call a batch then decodes, augments and normalizes it: half the CPU of
    # per-example maps (3.5 against 7 ms a batch of 64, measured on 2 cores).
    ds = ds.batch(batch_size, drop_remainder=training)
    augment = training and (self.spec.augment if augment is None else augment)
    ds = ds.map(functools.partial(self._prepare, augment=augment),
                num_parallel_calls=tf.data.AUTOTUNE)
    if skip_batches:
      ds = ds.skip(skip_batches)
    if not autotune:
      options = tf.data.Options()
      options.autotune.enabled = False
      ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)

  def distributed(self, strategy: tf.distribute.Strategy, part: str,
                  global_batch_size: int, training: bool, seed: Optional[int] = None,
                  skip_batches: int = 0, augment: Optional[bool] = None,
                  autotune: bool = True):
    """The part as a distributed dataset with per-replica batches."""
    def fn(ctx):
      return self.dataset(part, ctx.get_per_replica_batch_size(global_batch_size),
                          training, ctx, seed, skip_batches, augment, autotune)
    return strategy.distribute_datasets_from_function(fn)

  def caches(self, part: str, shards: int = 1) -> bool:
    """Whether the pipeline of `part` keeps its images in memory (measured against
    the memory available when the pipeline is built)."""
    return cache_fits(self.num_examples(part) // shards, self.spec,
                      available_memory_bytes())

  def _resize(self, image, label):
    size = self.spec.resize_from
    image = tf.image.resize(image, (size, size))
    return tf.cast(tf.round(image), tf.uint8), label

  def _prepare(self, images, labels, augment: bool):
    """A batch of uint8 images as normalized float32, augmented or center-cropped
    to the network's size."""
    images = tf.image.convert_image_dtype(images, tf.float32)
    size = self.spec.image_size
    if augment:
      if not self.spec.resize_from:
        images = tf.image.resize_with_crop_or_pad(images, size + 8, size + 8)
      images = random_crops_and_flips(images, size)
    elif self.spec.resize_from:
      images = tf.image.resize_with_crop_or_pad(images, size, size)
    return (images - self.spec.mean) / self.spec.std, tf.cast(labels, tf.int32)


def random_crops_and_flips(images: tf.Tensor, size: int) -> tf.Tensor:
  """Each image of a batch cropped to size x size at its own random offset, and
  flipped left-right with probability 1/2."""
  batch = tf.shape(images)[0]
  height, width = images.shape[1], images.shape[2]
  crop = tf.range(size)
  rows = tf.random.uniform([batch, 1], 0, height - size + 1, tf.int32) + crop
  cols = tf.random.uniform([batch, 1], 0, width - size + 1, tf.int32) + crop
  flip = tf.random.uniform([batch, 1]) < 0.5
  cols = tf.where(flip, tf.reverse(cols, [1]), cols)
  images = tf.gather(images, rows, axis=1, batch_dims=1)
  return tf.gather(images, cols, axis=2, batch_dims=1)
