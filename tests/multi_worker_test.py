"""A smoke search with two MultiWorkerMirroredStrategy workers, two processes on
127.0.0.1: both reach the same genotype and pruning history, and only the chief's
model dir holds the final artefacts."""
import json
import os
import re
import subprocess
import tempfile

from absl.testing import absltest

from radars_tf.datasets import fashion_mnist_debian
from tests import cli


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class MultiWorkerTest(absltest.TestCase):

  def test_two_workers_agree(self):
    tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    cluster = {"worker": [f"127.0.0.1:{cli.free_port()}" for _ in range(2)]}
    procs = []
    for index in range(2):
      env = cli.env(TF_CONFIG=json.dumps(
          {"cluster": cluster, "task": {"type": "worker", "index": index}}))
      procs.append(subprocess.Popen(
          cli.command(cli.SMOKE_FLAGS, "--strategy=multi_worker",
                      f"--model_dir={tmp}/worker{index}"),
          cwd=cli.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
          text=True))
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outputs):
      self.assertEqual(p.returncode, 0, err[-3000:])
    chief_dir = f"{tmp}/worker0"
    with open(os.path.join(chief_dir, "results.json")) as f:
      chief = json.load(f)
    self.assertEqual(chief["replicas"], 2)
    worker_dir = re.search(r"writes its artefacts to (\S+)", outputs[1][0]).group(1)
    with open(os.path.join(worker_dir, "results.json")) as f:
      worker = json.load(f)
    self.assertEqual(chief["genotype"], worker["genotype"])
    self.assertEqual(chief["pruning_history"], worker["pruning_history"])
    self.assertTrue(os.path.exists(os.path.join(chief_dir, "saved_model")))
    for name in ("results.json", "saved_model", "model.keras", "genotype.json",
                 "logs", "checkpoints"):
      self.assertFalse(os.path.exists(os.path.join(tmp, "worker1", name)), name)


if __name__ == "__main__":
  absltest.main()
