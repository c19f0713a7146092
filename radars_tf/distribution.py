"""tf.distribute in one place: device configuration and strategy creation, with
errors a user can act on."""
import json
import os
from typing import Optional

import tensorflow as tf

from radars_tf.errors import UserError


def configure_devices(gpu_memory_limit_mb: float = 0.0,
                      logical_cpus: int = 0) -> None:
  """Must run before any op: caps each GPU's memory (the search's budget comes from
  the same number) and/or splits the CPU into logical devices (tests of
  MirroredStrategy on a CPU machine)."""
  try:
    if gpu_memory_limit_mb:
      for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.set_logical_device_configuration(
            gpu, [tf.config.LogicalDeviceConfiguration(
                memory_limit=int(gpu_memory_limit_mb))])
    if logical_cpus > 1:
      cpu = tf.config.list_physical_devices("CPU")[0]
      tf.config.set_logical_device_configuration(
          cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
  except RuntimeError as e:
    raise UserError(f"devices already initialized, cannot configure them: {e}") from e


def _check_tf_config() -> dict:
  raw = os.environ.get("TF_CONFIG", "")
  if not raw:
    raise UserError("--strategy=multi_worker needs TF_CONFIG (cluster and task)")
  try:
    conf = json.loads(raw)
    workers = conf["cluster"]["worker"]
    task = conf["task"]
    if task["type"] not in ("worker", "chief") or not 0 <= int(task["index"]) < len(
        workers) + (1 if task["type"] == "chief" else 0):
      raise ValueError("task type/index does not match the cluster")
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f"TF_CONFIG does not parse: {e}") from e
  return conf


def get_strategy(name: str, tpu: str = "") -> tf.distribute.Strategy:
  """default | one_device | mirrored | multi_worker | tpu."""
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
  if name == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    devices = [d.name for d in (gpus or cpus)]
    return tf.distribute.MirroredStrategy(devices)
  if name == "multi_worker":
    _check_tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    try:
      resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
      tf.config.experimental_connect_to_cluster(resolver)
      tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
      raise UserError(f"cannot reach the TPU '{tpu or 'auto'}': "
                      f"{str(e).splitlines()[0][:200]}") from e
    return tf.distribute.TPUStrategy(resolver)
  raise UserError(f"unknown strategy '{name}'")


def check_batch(global_batch: int, strategy: tf.distribute.Strategy) -> int:
  """The per-replica batch; the global batch must divide evenly."""
  n = strategy.num_replicas_in_sync
  if global_batch % n:
    raise UserError(f"--batch_size {global_batch} is not divisible by the "
                    f"{n} replicas")
  return global_batch // n


def is_chief(strategy: Optional[tf.distribute.Strategy]) -> bool:
  """Only the chief writes final checkpoints, logs and exports: the strategy's own
  answer (`should_checkpoint`: the chief, or worker 0 without a chief; always
  true off a cluster)."""
  if strategy is None:
    return True
  return bool(strategy.extended.should_checkpoint)


def will_be_chief(strategy_name: str) -> bool:
  """Before the strategy exists (it connects the cluster): whether this process
  will be the chief, by TF_CONFIG's rule (the chief, or worker 0 without one)."""
  if strategy_name != "multi_worker":
    return True
  conf = _check_tf_config()
  task = conf["task"]
  return task["type"] == "chief" or (task["type"] == "worker" and
                                     int(task["index"]) == 0 and
                                     "chief" not in conf["cluster"])
