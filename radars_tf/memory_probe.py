"""Measures what one DNAS step really allocates: TensorFlow's allocator peak.

`tf.config.experimental.get_memory_info(device)["peak"]` after `reset_memory_stats`
works for CPU:0 as well as GPU:0 in TF 2.15, so the memory model can be checked on
a CPU machine.
"""
import dataclasses
import gc
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Callable, List, Sequence, Tuple

import numpy as np
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import dnas_trainer, supernet
from radars_tf.search_space import SearchSpace, Subspace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class StepMeasurement:
  """What one DNAS step claims, whole and by part (bytes; see `claimed_peak`)."""
  peak_bytes: int          # a steady step: both passes and both updates
  step_seconds: float
  first_step_bytes: int    # the first step: tracing, optimizer slots created
  held_bytes: int          # weights, optimizer slots, alphas: the real variables
  weight_pass_bytes: int   # the weight half alone, above what is held
  alpha_pass_bytes: int    # the alpha half alone, above what is held
  # The same halves counted by tensor (the bytes their ops requested, at most
  # alive at once): what the memory model's activation and gradient terms
  # count. The allocator's chunking is the difference (`tensor_peak`).
  weight_pass_tensor_bytes: int = 0
  alpha_pass_tensor_bytes: int = 0


def device_name() -> str:
  return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"


def reset_peak(device: str = "") -> None:
  tf.config.experimental.reset_memory_stats(device or device_name())


def peak_bytes(device: str = "") -> int:
  return int(tf.config.experimental.get_memory_info(device or device_name())["peak"])


def counts_small_allocations(device: str = "") -> bool:
  """Whether the allocator's statistics see a 64 KB tensor (the default oneDNN CPU
  allocator leaves allocations under 256 KB out; radars_tf/__init__.py avoids it)."""
  device = device or device_name()
  with tf.device(device):
    before = int(tf.config.experimental.get_memory_info(device)["current"])
    probe = tf.zeros([16384])
    seen = int(tf.config.experimental.get_memory_info(device)["current"]) - before
  del probe
  return seen >= 16384 * 4


def variable_bytes(variables) -> int:
  return sum(int(np.prod(v.shape)) * v.dtype.size for v in variables)


def replicas_per_allocator(strategy: tf.distribute.Strategy) -> int:
  """How many of this process's replicas allocate where `device_name()` is read:
  every local one on a CPU (logical CPU devices share the process's allocator),
  one on a GPU (each GPU has its own)."""
  if device_name().startswith("GPU"):
    return 1
  try:
    return max(1, len(strategy.extended.worker_devices))
  except RuntimeError:                 # the default strategy: one replica
    return 1


class PeakMeter:
  """The memory claimed per replica since it was made: the allocator's peak less
  what was allocated before (input caches, other models, garbage not yet freed),
  shared among the `replicas` allocating there, plus the state the measured code
  owns (weights, optimizer slots, alphas), counted from the real variables as the
  estimate counts it."""

  def __init__(self, owned_variables: Sequence, replicas: int = 1):
    gc.collect()
    self.device, self.replicas = device_name(), replicas
    self.before = int(tf.config.experimental.get_memory_info(self.device)["current"])
    self.owned = variable_bytes(owned_variables)
    reset_peak(self.device)

  def claimed(self) -> int:
    return (peak_bytes(self.device) - self.before) // self.replicas + self.owned


def claimed_peak(run: Callable[[], None], owned_variables: Sequence) -> int:
  """The memory `run()` claims at its peak (see `PeakMeter`)."""
  meter = PeakMeter(owned_variables)
  run()
  return meter.claimed()


def allocator_events(logdir: str) -> List[Tuple[int, str, dict]]:
  """(time, kind, stats) of every allocation and deallocation the profiler wrote
  in `logdir`, in time order; stats by name (requested_bytes, allocation_bytes,
  addr, allocator_name, bytes_allocated, tf_op, shape)."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  out = []
  for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
      space.ParseFromString(f.read())
    for plane in space.planes:
      stat_names = {k: v.name for k, v in plane.stat_metadata.items()}
      event_names = {k: v.name for k, v in plane.event_metadata.items()}
      for line in plane.lines:
        for ev in line.events:
          kind = event_names.get(ev.metadata_id, "")
          if kind not in ("MemoryAllocation", "MemoryDeallocation"):
            continue
          stats = {}
          for s in ev.stats:
            which = s.WhichOneof("value")
            stats[stat_names.get(s.metadata_id)] = (
                stat_names.get(s.ref_value) if which == "ref_value"
                else getattr(s, which))
          out.append((line.timestamp_ns * 1000 + ev.offset_ps, kind, stats))
  out.sort(key=lambda e: e[0])
  return out


def profiled_events(run: Callable[[], None]) -> List[Tuple[int, str, dict]]:
  """`run()` under TensorFlow's profiler: its allocator events (`allocator_events`)."""
  with tempfile.TemporaryDirectory(prefix="memory_probe_") as logdir:
    tf.profiler.experimental.start(logdir)
    try:
      run()
    finally:
      tf.profiler.experimental.stop()
    return allocator_events(logdir)


def tensor_peak(run: Callable[[], None]) -> int:
  """The most bytes the tensors `run()` allocates hold at once, as their ops
  requested them: the allocator's peak less its chunking (BFC hands a request a
  free chunk of up to twice its size whole). Tensors allocated before `run()`
  are not counted."""
  on_cpu = device_name().startswith("CPU")
  alive, held, peak = {}, 0, 0         # address -> requested bytes
  for _, kind, st in profiled_events(run):
    if ("cpu" in str(st.get("allocator_name", "")).lower()) != on_cpu:
      continue
    if kind == "MemoryAllocation":
      alive[st["addr"]] = st["requested_bytes"]
      held += st["requested_bytes"]
      peak = max(peak, held)
    else:                 # what was allocated before `run()` is not counted
      held -= alive.pop(st["addr"], 0)
  return peak


class DnasRig:
  """A DNAS trainer on `subspace` with two fixed random batches (training,
  validation) and each half of its step as a tf.function: what
  `measure_dnas_step` and tools/probe_fragmentation.py measure."""

  def __init__(self, space: SearchSpace, subspace: Subspace,
               input_shape: Tuple[int, int, int], num_classes: int, batch: int,
               seed: int = 0):
    gc.collect()
    tf.keras.backend.clear_session()
    tf.random.set_seed(seed)
    self.net = supernet.Supernet(space, subspace, input_shape, num_classes)
    self.alphas = alphas_lib.Alphas(space)
    self.trainer = dnas_trainer.DnasTrainer(
        self.net, self.alphas, tf.distribute.get_strategy(), batch,
        dnas_trainer.DnasHParams(), 100)
    rng = np.random.default_rng(seed)
    x, vx = (tf.constant(rng.standard_normal((batch,) + tuple(input_shape)),
                         tf.float32) for _ in range(2))
    y, vy = (tf.constant(rng.integers(0, num_classes, batch), tf.int32)
             for _ in range(2))
    self.batches = (x, y, vx, vy)
    tau = tf.constant(1.0)
    self.passes = {
        "weight": tf.function(lambda: self.trainer.weight_pass(x, y, tau)),
        "alpha": tf.function(lambda: self.trainer.alpha_pass(vx, vy, tau))}

  def iterators(self):
    """Endless iterators over the training and the validation batch."""
    x, y, vx, vy = self.batches
    return (iter(tf.data.Dataset.from_tensors(b).repeat()) for b in ((x, y), (vx, vy)))

  def owned(self) -> list:
    """The state the step owns (the optimizer slots exist after its first step)."""
    return (self.net.variables + self.trainer.w_opt.variables()
            + [self.alphas.logits] + self.trainer.a_opt.variables
            + list(self.batches))


def measure_dnas_step(space: SearchSpace, subspace: Subspace,
                      input_shape: Tuple[int, int, int], num_classes: int,
                      batch: int, steps: int = 2, seed: int = 0,
                      source=None) -> StepMeasurement:
  """Claimed allocator peak and mean wall time of DNAS steps on random data, and
  the parts the memory model names, each measured alone. With a `source`
  (data.DataSource) the timed steps read its search parts through the real input
  pipeline, as a search's DNAS round does: on a CPU device what the pipeline
  allocates during the steps is in the same allocator."""
  rig = DnasRig(space, subspace, input_shape, num_classes, batch, seed)
  trainer = rig.trainer
  it, vit = rig.iterators()
  first = claimed_peak(lambda: trainer.train_step(it, vit), rig.owned())
  halves = [rig.passes["weight"], rig.passes["alpha"]]
  for half in halves:
    half()                                          # trace
  held = variable_bytes(rig.owned())
  weight_pass, alpha_pass = (claimed_peak(half, rig.owned()) - held
                             for half in halves)
  weight_tensors, alpha_tensors = (tensor_peak(half) for half in halves)
  seconds = []

  if source is not None:       # filled before the steps, as a search's are
    it, vit = (iter(source.dataset(part, batch, training=True, autotune=False))
               for part in ("search_train", "search_val"))
    trainer.train_step(it, vit)

  def run():
    for _ in range(steps):
      start = time.perf_counter()
      trainer.train_step(it, vit)
      seconds.append(time.perf_counter() - start)
  return StepMeasurement(claimed_peak(run, rig.owned()), float(np.mean(seconds)),
                         first, held, weight_pass, alpha_pass, weight_tensors,
                         alpha_tensors)


def measure_in_fresh_process(space: SearchSpace, subspace: Subspace,
                             input_shape: Tuple[int, int, int], num_classes: int,
                             batch: int, steps: int = 2, seed: int = 0,
                             dataset: str = "", full_dataset: bool = False
                             ) -> StepMeasurement:
  """`measure_dnas_step` in a new Python process: an allocator that already held
  larger tensors measures the same step higher (its free chunks are no longer the
  sizes this step asks for), so a measurement of the model's count starts fresh.
  `dataset` names a DataSource whose real input pipeline the steps read (its
  first 512 examples, or all with `full_dataset`, as a search reads it)."""
  job = dict(space=space.to_dict(), alive=subspace.to_json(),
             input_shape=list(input_shape), num_classes=num_classes, batch=batch,
             steps=steps, seed=seed, dataset=dataset, full_dataset=full_dataset)
  proc = subprocess.run(
      [sys.executable, "-m", "radars_tf.memory_probe", json.dumps(job)],
      cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"),
      capture_output=True, text=True, check=False)
  if proc.returncode:
    raise RuntimeError(f"memory probe failed: {proc.stderr.strip()[-500:]}")
  return StepMeasurement(**json.loads(proc.stdout.strip().splitlines()[-1]))


def _main(job: dict) -> None:
  from radars_tf import data  # pylint: disable=import-outside-toplevel
  limits = {} if job["full_dataset"] else dict(max_train_examples=512,
                                                   max_test_examples=64)
  source = data.DataSource(job["dataset"], **limits) if job["dataset"] else None
  got = measure_dnas_step(SearchSpace.from_dict(job["space"]),
                          Subspace.from_json(job["alive"]),
                          tuple(job["input_shape"]), job["num_classes"], job["batch"],
                          job["steps"], job["seed"], source)
  print(json.dumps(dataclasses.asdict(got)))


if __name__ == "__main__":
  _main(json.loads(sys.argv[1]))
