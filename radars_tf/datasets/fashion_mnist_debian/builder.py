"""TFDS builder for the Fashion-MNIST files Debian ships.

Debian recompressed the upstream .gz files, so TFDS's registered checksums do not
match although the decoded images are the real data. This builder reuses TFDS's own
`FashionMNIST` example generation and verifies the Debian files against the sizes
and SHA-256 digests recorded in `checksums.tsv` beside this module; TFDS finds them in
the manual dir by the file names listed there, so nothing is downloaded.
"""
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


class FashionMnistDebian(mnist.FashionMNIST):
  """Fashion-MNIST (60000 train / 10000 test) from Debian's recompressed files."""

  VERSION = tfds.core.Version("3.0.1")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Install Debian's package `dataset-fashion-mnist` (files land in "
      f"{DEBIAN_DIR}) or pass --manual_dir with the four Fashion-MNIST .gz files.")
