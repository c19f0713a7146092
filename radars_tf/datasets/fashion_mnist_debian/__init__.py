"""Real Fashion-MNIST from Debian's `dataset-fashion-mnist` package, through TFDS."""
from radars_tf.datasets.fashion_mnist_debian.builder import DEBIAN_DIR, FashionMnistDebian
