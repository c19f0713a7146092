"""Smoke searches with two MultiWorkerMirroredStrategy workers, two processes on
127.0.0.1 sharing one --model_dir: both reach the same genotype and pruning
history, only the chief writes the model dir, and after one worker is killed both
restart from the chief's last saved unit."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

from absl.testing import absltest

from radars_tf.datasets import fashion_mnist_debian
from tests import cli

# Enough units after the first save that a kill lands mid-search.
LONGER = ("--dnas_rounds=3", "--dnas_steps_per_round=20")


def start_workers(model_dir, *extra):
  cluster = {"worker": [f"127.0.0.1:{cli.free_port()}" for _ in range(2)]}
  procs = []
  for index in range(2):
    env = cli.env(TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    procs.append(subprocess.Popen(
        cli.command(cli.SMOKE_FLAGS, "--strategy=multi_worker",
                    f"--model_dir={model_dir}", *extra),
        cwd=cli.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True))
  return procs


def saved_units(model_dir):
  try:
    with open(os.path.join(model_dir, "search_state.json")) as f:
      return json.load(f)["units"]
  except (OSError, ValueError, KeyError):
    return 0


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class MultiWorkerTest(absltest.TestCase):

  def finish(self, procs):
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outputs):
      self.assertEqual(p.returncode, 0, err[-3000:])
    return outputs

  def results(self, model_dir, outputs):
    with open(os.path.join(model_dir, "results.json")) as f:
      chief = json.load(f)
    worker_dir = re.search(r"writes its artefacts to (\S+)", outputs[1][0]).group(1)
    with open(os.path.join(worker_dir, "results.json")) as f:
      worker = json.load(f)
    return chief, worker

  def test_two_workers_agree(self):
    model_dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "m")
    chief, worker = self.results(model_dir, self.finish(start_workers(model_dir)))
    self.assertEqual(chief["replicas"], 2)
    self.assertEqual(chief["genotype"], worker["genotype"])
    self.assertEqual(chief["pruning_history"], worker["pruning_history"])
    self.assertTrue(os.path.exists(os.path.join(model_dir, "saved_model")))

  def test_killed_worker_and_both_restarted_resume_together(self):
    model_dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "m")
    procs = start_workers(model_dir, *LONGER)
    deadline = time.time() + 600
    while saved_units(model_dir) < 2 and time.time() < deadline:
      self.assertIsNone(procs[0].poll(), "the run ended before the kill")
      time.sleep(0.2)
    procs[1].send_signal(signal.SIGKILL)         # a preempted worker
    _, err = procs[0].communicate(timeout=300)   # its peer cannot go on alone
    procs[1].wait(timeout=60)
    self.assertEqual(procs[0].returncode, 2, err[-3000:])
    self.assertNotIn("Traceback", err)
    self.assertRegex(err, r"error: a worker of the cluster failed or was preempted "
                          r".*restart every worker with the same command")
    killed_at = saved_units(model_dir)
    self.assertGreaterEqual(killed_at, 2)
    self.assertFalse(os.path.exists(os.path.join(model_dir, "results.json")))

    outputs = self.finish(start_workers(model_dir, *LONGER))
    for out, _ in outputs:   # both workers, not only the chief, resume there
      self.assertIn(f"resumed after unit {killed_at} ", out)
    chief, worker = self.results(model_dir, outputs)
    self.assertEqual(chief["genotype"], worker["genotype"])
    self.assertEqual(chief["pruning_history"], worker["pruning_history"])


if __name__ == "__main__":
  absltest.main()
