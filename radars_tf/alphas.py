"""Architecture variables (alphas): one logit vector per searchable layer.

Kept apart from the network weights (a tf.Module, not part of the supernet) and
optimized on the validation part. Pruned candidates are masked out of the softmax;
their entries stay in the variable so survivors keep their values.
"""
from typing import List, Optional

import numpy as np
import tensorflow as tf

from radars_tf.search_space import SearchSpace, Subspace

NEG_INF = -1e9


class Alphas(tf.Module):
  """Alpha logits, [layers, max candidates], zero (uniform) at start as in DARTS."""

  def __init__(self, space: SearchSpace, init_scale: float = 1e-3, seed: int = 0,
               name: str = "alphas"):
    super().__init__(name=name)
    shape = Subspace.full(space).mask(space).shape
    init = init_scale * np.random.default_rng(seed).standard_normal(shape)
    self.logits = tf.Variable(init.astype(np.float32), name="logits")

  def masked_logits(self, mask) -> tf.Tensor:
    return self.logits + (1.0 - mask) * NEG_INF

  def probs(self, mask, temperature=1.0) -> tf.Tensor:
    """Softmax over each layer's alive candidates."""
    return tf.nn.softmax(self.masked_logits(mask) / temperature, axis=-1)

  def mixing_weights(self, mask, temperature=1.0, gumbel: bool = False,
                     seed: Optional[tf.Tensor] = None) -> tf.Tensor:
    """Softmax or Gumbel-softmax (FBNet) mixing weights of each layer's ops."""
    logits = self.masked_logits(mask)
    if gumbel:
      u = tf.random.stateless_uniform(tf.shape(logits), seed, 1e-6, 1.0 - 1e-6)
      logits = logits - tf.math.log(-tf.math.log(u))
    return tf.nn.softmax(logits / temperature, axis=-1)


def entropy(probs: np.ndarray) -> np.ndarray:
  """Entropy (nats) of each row of a probability matrix."""
  p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
  return -(np.asarray(probs) * np.log(p)).sum(axis=-1)


def mean_entropy(probs: np.ndarray, subspace: Subspace) -> float:
  """Mean entropy (nats) of the per-layer distributions over alive candidates."""
  return float(np.mean([entropy(probs[i, list(a)][None])[0]
                        for i, a in enumerate(subspace.alive)]))


def confident_layers(probs: np.ndarray, subspace: Subspace,
                     threshold: float) -> List[int]:
  """Layers whose top alive probability reaches `threshold` (converged)."""
  return [layer for layer, alive in enumerate(subspace.alive)
          if len(alive) == 1 or float(np.max(probs[layer, list(alive)])) >= threshold]
