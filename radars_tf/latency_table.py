"""Training-step latencies measured on this device, op by op and cached: FBNet's
latency table, anchored on one measured network.

`predict_ms(ops) = base_ms + sum over layers of op_ms[layer, op]`. Each op's entry is
its compiled forward + backward (to its input and weights) + update, alone on its
layer's input at the search's per-replica batch; `base_ms` is a measured reference
network's step minus its ops' entries, so that the stem, head, shortcuts and a step's
own overhead are counted once, as measured. Ops of layers with the same shape share
one measurement. The table is cached per device, TensorFlow build and space, so a
machine measures it once.
"""
import dataclasses
import hashlib
import json
import os
import platform
import time
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import memory_model, network, ops, training
from radars_tf.errors import UserError
from radars_tf.search_space import LayerSpec, SearchSpace

VERSION = 2     # 2: inputs passed to the compiled steps (1 let constants fold)
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "radars_tf")


def timed(step: Callable[[], object], steps: int, warmup: int = 2) -> float:
  """Mean wall seconds of `step()` after `warmup` untimed calls (the first traces)."""
  for _ in range(warmup):
    step()
  start = time.perf_counter()
  for _ in range(steps):
    step()
  return (time.perf_counter() - start) / steps


# The input is an argument of the compiled step, never a captured constant: the
# graph optimizer folds whatever depends on constants alone (a max pool's whole
# forward and backward), and the step would time nothing.


def op_step(layer: tf.keras.layers.Layer, x: tf.Tensor) -> Callable[[], None]:
  """A compiled forward + backward (to the input and weights) + update of one layer."""
  opt = training.sgd(0.01, clip=False)
  layer(x, training=True)
  opt.build(layer.trainable_variables)

  @tf.function
  def step(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = tf.reduce_mean(tf.square(layer(x, training=True)))
    grads = tape.gradient(loss, [x] + layer.trainable_variables)
    opt.apply_gradients(zip(grads[1:], layer.trainable_variables))
  return lambda: step(x)


def network_step(model: tf.keras.Model, x: tf.Tensor, y: tf.Tensor,
                 compiled: bool = True) -> Callable[[], None]:
  """The train step of a plain Keras model with final training's optimizer."""
  opt = training.sgd(0.05, nesterov=True, weight_decay=5e-4)
  opt.build(model.trainable_variables)

  def step(x, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(training.per_example_loss(y, model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
  fn = tf.function(step) if compiled else step
  return lambda: fn(x, y)


def _op_key(spec: LayerSpec, op: str, residual: bool) -> str:
  return f"{op}|{spec.cin}|{spec.cout}|{spec.stride}|{spec.hw}|{int(residual)}"


def _random(shape, seed: int) -> tf.Tensor:
  return tf.constant(np.random.default_rng(seed).standard_normal(shape), tf.float32)


def measure_model_ms(model: tf.keras.Model, input_shape: Tuple[int, int, int],
                     num_classes: int, batch: int, steps: int = 5) -> float:
  """The measured compiled train step of `model`, in ms (constant batch: no input
  pipeline)."""
  x = _random((batch,) + tuple(input_shape), 0)
  y = tf.constant(np.arange(batch) % num_classes, tf.int32)
  return 1000 * timed(network_step(model, x, y), steps)


def measure_network_ms(space: SearchSpace, op_specs: Sequence[str],
                       input_shape: Tuple[int, int, int], num_classes: int,
                       batch: int, steps: int = 5) -> float:
  """The measured step of the stand-alone network of `op_specs`."""
  return measure_model_ms(
      network.standalone_model(space, op_specs, input_shape, num_classes),
      input_shape, num_classes, batch, steps)


def device_model() -> str:
  """What the measurements ran on: the first GPU if any, else the CPU's model."""
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
  except OSError:
    pass
  return f"{platform.processor() or platform.machine()} x{os.cpu_count()}"


def onednn_enabled() -> bool:
  """Whether TensorFlow's CPU kernels are oneDNN's (it changes their speed 1.4-2.5x
  on some CPUs: README, the latency table)."""
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top,import-outside-toplevel
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):
    return False


@dataclasses.dataclass(frozen=True)
class LatencyTable:
  op_ms: np.ndarray      # [layers, candidates] ms of each op's step alone
  base_ms: float         # what every network's step has beside its ops
  reference: Tuple[str, ...]
  reference_ms: float    # the reference network's measured step

  def predict_ms(self, choices: Sequence[int]) -> float:
    return self.base_ms + sum(float(self.op_ms[l, c]) for l, c in enumerate(choices))

  def expected_ms(self, weights: tf.Tensor) -> tf.Tensor:
    """The step under mixing weights [layers, candidates] (differentiable)."""
    return self.base_ms + tf.reduce_sum(weights * tf.constant(self.op_ms, tf.float32))


def fingerprint(space: SearchSpace, input_shape, num_classes: int, batch: int) -> dict:
  return {"version": VERSION, "device": device_model(), "tensorflow": tf.__version__,
          "onednn": onednn_enabled(),
          "space": space.to_dict(), "input_shape": list(input_shape),
          "num_classes": num_classes, "batch": batch}


def cache_path(cache_dir: str, key: dict) -> str:
  digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
  return os.path.join(os.path.expanduser(cache_dir), f"latency-{digest}.json")


def _read_cache(path: str, key: dict, note: Callable[[str], None]) -> dict:
  """The cached entries for `key`, {} if none; a damaged file is measured again."""
  if not os.path.exists(path):
    return {}
  try:
    with open(path) as f:
      cached = json.load(f)
    if cached["fingerprint"] == key:
      return cached
  except (OSError, ValueError, KeyError, TypeError):
    pass
  note(f"latency table {path} is unreadable or of other conditions: measuring again")
  return {}


def _write_cache(path: str, content: dict) -> None:
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
      json.dump(content, f, indent=1)
    os.replace(tmp, path)
  except OSError as e:
    raise UserError(f"cannot write the latency table to {path}: {e.strerror} "
                    "(choose another --latency_cache_dir)") from e


def reference_ops(space: SearchSpace, input_shape) -> Tuple[str, ...]:
  """Each layer's cheapest candidate by FLOPs, `zero` last (it cuts the gradient):
  the network the table is anchored on."""
  macs = memory_model.macs_matrix(space, input_shape)
  return tuple(min(cands, key=lambda op, l=l, cands=cands: (
      op == "zero", macs[l, cands.index(op)]))
               for l, cands in enumerate(space.candidates()))


def load_or_measure(space: SearchSpace, input_shape, num_classes: int, batch: int,
                    cache_dir: str = DEFAULT_CACHE_DIR, steps: int = 5,
                    progress=None) -> LatencyTable:
  """The space's latency table: from the cache, measuring (and caching, op by op, so
  an interrupted measurement continues) whatever is missing."""
  note = progress.note if progress is not None else (lambda line: None)
  key = fingerprint(space, input_shape, num_classes, batch)
  path = cache_path(cache_dir, key)
  cached = _read_cache(path, key, note)
  entries: Dict[str, float] = dict(cached.get("op_ms", {}))
  layers = space.layers(input_shape[0])
  todo = {}
  for spec in layers:
    for op in spec.candidates:
      k = _op_key(spec, op, space.residual)
      if k not in entries:
        todo.setdefault(k, (spec, op))
  content = {"fingerprint": key, "op_ms": entries,
             "reference_ms": cached.get("reference_ms")}
  if todo:
    note(f"measuring the latency table on {key['device']}: {len(todo)} op steps at "
         f"batch {batch} (cached in {path})")
    if progress is not None:
      progress.phase("latency table", len(todo))
    for i, (k, (spec, op)) in enumerate(todo.items()):
      layer = ops.OpLayer(op, spec.cin, spec.cout, spec.stride, space.residual)
      x = _random((batch, spec.hw, spec.hw, spec.cin), i)
      entries[k] = 1000 * timed(op_step(layer, x), steps)
      _write_cache(path, content)     # small: an interrupted measurement continues
      if progress is not None:
        progress.update(i + 1, {"ms": entries[k]})
  op_ms = np.zeros((len(layers), max(len(s.candidates) for s in layers)))
  for l, spec in enumerate(layers):
    for c, op in enumerate(spec.candidates):
      op_ms[l, c] = entries[_op_key(spec, op, space.residual)]
  reference = reference_ops(space, input_shape)    # a function of the space (the key)
  if content["reference_ms"] is None:
    content["reference_ms"] = measure_network_ms(space, reference, input_shape,
                                                 num_classes, batch, steps)
    _write_cache(path, content)
  ref_choices = [spec.candidates.index(op) for spec, op in zip(layers, reference)]
  ref_ops_ms = sum(float(op_ms[l, c]) for l, c in enumerate(ref_choices))
  return LatencyTable(op_ms, content["reference_ms"] - ref_ops_ms, reference,
                      content["reference_ms"])
