"""The allocator probe: real on the CPU device, and the GPU path with a fake
device (no GPU here): it must read and reset GPU:0's statistics, the same code
path a GPU run takes under --gpu_memory_limit_mb."""
import ast
import glob
import os
import subprocess
import sys
from unittest import mock

import tensorflow as tf

from radars_tf import distribution, memory_probe


class MemoryProbeTest(tf.test.TestCase):

  def test_claimed_peak_counts_what_the_run_allocates(self):
    n = 4 << 20                                  # 4 MB of float32

    def run():
      x = tf.ones((n // 4,))
      tf.reduce_sum(x * 2.0).numpy()             # x and x * 2 alive together
    claimed = memory_probe.claimed_peak(run, [])
    # At least both tensors; the BFC allocator may hand a request a free chunk of
    # up to twice its size without splitting it (measured: 9.2 MB of 8 MB here).
    self.assertBetween(claimed, 2 * n, 3 * n)

  def test_tensor_peak_counts_requested_bytes_alive_at_once(self):
    mb = 1 << 20
    before = [tf.ones((4 * mb // 4,))]           # allocated before run()

    def run():
      before.clear()                             # its free is not counted either
      a = tf.ones((mb // 4,))
      b = a + tf.ones((2 * mb // 4,))[:mb // 4]  # a, the 2 MB ones, b: 4 MB
      del a
      c = b * 2.0                                # b and c: 2 MB
      del c
    peak = memory_probe.tensor_peak(run)
    # Exactly the tensors' requested bytes (the allocator's chunks may be up to
    # twice as large), plus the few bytes of scalars and shapes the ops allocate.
    self.assertBetween(peak, 4 * mb, 4 * mb + 4096)

  def test_importing_radars_tf_first_turns_onednn_on(self):
    # Without oneDNN (its default on AVX2-only CPUs) a conv's weight gradient takes
    # an L3-sized buffer the memory model does not count (radars_tf/__init__.py).
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    out = subprocess.run(
        [sys.executable, "-c", "import radars_tf, tensorflow; from tensorflow."
         "python.util import _pywrap_util_port as p; print(p.IsMklEnabled())"],
        cwd=memory_probe.ROOT, env=dict(env, PYTHONPATH=memory_probe.ROOT,
                                        TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True, text=True, check=True).stdout
    self.assertEqual(out.strip().splitlines()[-1], "True")

  def test_tools_import_radars_tf_before_tensorflow(self):
    # A tool importing TensorFlow first runs without oneDNN on AVX2-only CPUs: its
    # memory and speed figures would not be the package's.
    tools = glob.glob(os.path.join(memory_probe.ROOT, "tools", "*.py"))
    self.assertNotEmpty(tools)
    for path in tools:
      with open(path) as f:
        body = ast.parse(f.read()).body
      names = [alias.name if isinstance(node, ast.Import) else node.module or ""
               for node in body if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names]
      tf_at = [i for i, n in enumerate(names)
               if n.split(".")[0] in ("tensorflow", "keras", "tf_agents")]
      if tf_at:
        rt_at = [i for i, n in enumerate(names) if n.split(".")[0] == "radars_tf"]
        self.assertTrue(rt_at and rt_at[0] < tf_at[0],
                        f"{os.path.basename(path)} imports TensorFlow before radars_tf")

  def test_small_tensors_are_counted(self):
    # Importing radars_tf sets the CPU allocator to one that counts every byte; the
    # default would leave every tensor under 256 KB out of each measured peak.
    self.assertTrue(memory_probe.counts_small_allocations())

  def test_owned_state_is_counted_from_the_variables(self):
    v = tf.Variable(tf.zeros((1 << 18,)))        # 1 MB held before the run
    claimed = memory_probe.claimed_peak(lambda: None, [v])
    self.assertEqual(claimed, 1 << 20)

  def test_gpu_path_reads_the_gpu_allocator(self):
    gpu = tf.config.LogicalDevice("/device:GPU:0", "GPU")
    calls, stats = [], {"current": 100 << 20, "peak": 100 << 20}

    def get_memory_info(device):
      calls.append(("info", device))
      return dict(stats)

    def reset_memory_stats(device):
      calls.append(("reset", device))
      stats["peak"] = stats["current"]

    def run():                                   # a step that peaks 30 MB higher
      stats["peak"] = stats["current"] + (30 << 20)
    with mock.patch.object(tf.config, "list_logical_devices",
                           lambda kind=None: [gpu] if kind == "GPU" else []), \
         mock.patch.object(tf.config.experimental, "get_memory_info",
                           get_memory_info), \
         mock.patch.object(tf.config.experimental, "reset_memory_stats",
                           reset_memory_stats):
      self.assertEqual(memory_probe.device_name(), "GPU:0")
      self.assertEqual(memory_probe.claimed_peak(run, []), 30 << 20)
    self.assertEqual({d for _, d in calls}, {"GPU:0"})
    self.assertIn(("reset", "GPU:0"), calls)

  def test_gpu_memory_limit_caps_every_gpu(self):
    gpus = ["gpu0", "gpu1"]                      # fake physical devices
    configured = {}
    with mock.patch.object(tf.config, "list_physical_devices",
                           lambda kind=None: gpus if kind == "GPU" else []), \
         mock.patch.object(tf.config, "set_logical_device_configuration",
                           lambda dev, conf: configured.update({dev: conf})):
      distribution.configure_devices(gpu_memory_limit_mb=12000)
    self.assertEqual({d: [c.memory_limit for c in conf]
                      for d, conf in configured.items()},
                     {"gpu0": [12000], "gpu1": [12000]})


if __name__ == "__main__":
  tf.test.main()
