"""A real TensorBoard server on 127.0.0.1 against a smoke run's logdir: the runs and
the expected scalar, image and text tags, and the run's hyperparameters with its
test accuracy in the HParams tab, are served through its HTTP API."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from absl.testing import absltest

from radars_tf.datasets import fashion_mnist_debian
from tests import cli


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class TensorBoardTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    model_dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "tb")
    proc = subprocess.run(
        cli.command(cli.SMOKE_FLAGS, f"--model_dir={model_dir}", "--quiet"),
        cwd=cli.ROOT, env=cli.env(), capture_output=True, text=True, timeout=600,
        check=False)
    assert proc.returncode == 0, proc.stderr
    cls.port = cli.free_port()
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    cls.server = subprocess.Popen(
        [tensorboard, "--logdir", os.path.join(model_dir, "logs"), "--host",
         "127.0.0.1", "--port", str(cls.port), "--reload_interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
      try:
        runs = cls.get("/data/runs")
        if "search" in runs:
          break
      except OSError:
        pass
      time.sleep(1)

  @classmethod
  def tearDownClass(cls):
    cls.server.terminate()
    cls.server.wait(timeout=30)
    super().tearDownClass()

  @classmethod
  def get(cls, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{cls.port}{path}", timeout=10) as r:
      return json.loads(r.read())

  def test_runs(self):
    runs = self.get("/data/runs")
    self.assertIn("search", runs)
    self.assertTrue(any(r.startswith("final") for r in runs), runs)

  def test_scalars(self):
    tags = self.get("/data/plugin/scalars/tags")["search"]
    for tag in ("supernet/train_loss", "supernet/val_acc", "agent/reward_mean",
                "agent/reward_std", "agent/policy_entropy", "alphas/entropy",
                "memory/estimate_mb", "memory/measured_peak_mb", "memory/budget_mb",
                "space/log10_size", "space/alive/layer_00", "final/test_accuracy"):
      self.assertIn(tag, tags)

  def test_images(self):
    tags = self.get("/data/plugin/images/tags")["search"]
    self.assertIn("probs/alphas", tags)
    self.assertIn("probs/policy", tags)

  def test_text(self):
    tags = self.get("/data/plugin/text/tags")["search"]
    self.assertIn("genotype", tags)
    self.assertIn("pruning/decisions", tags)

  def test_hparams(self):
    plugins = self.get("/data/plugins_listing")
    self.assertTrue(plugins.get("hparams", {}).get("enabled"), plugins.get("hparams"))
    request = urllib.parse.quote(json.dumps({"experimentName": ""}))
    experiment = self.get(f"/data/plugin/hparams/experiment?request={request}")
    hparams = {h["name"]: h for h in experiment["hparamInfos"]}
    for name in ("method", "space", "memory_budget_mb", "seed", "target_mflops"):
      self.assertIn(name, hparams)
    metrics = [m["name"]["tag"] for m in experiment["metricInfos"]]
    self.assertIn("final/test_accuracy", metrics)
    request = urllib.parse.quote(json.dumps(
        {"experimentName": "", "startIndex": 0, "sliceSize": 10,
         "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS"]}))
    groups = self.get(f"/data/plugin/hparams/session_groups?request={request}")
    (group,) = groups["sessionGroups"]          # the run, with its values
    self.assertEqual(group["hparams"]["method"], "radars")
    accuracy = [m["value"] for m in group["metricValues"]
                if m["name"]["tag"] == "final/test_accuracy"]
    self.assertLen(accuracy, 1)
    self.assertBetween(accuracy[0], 0.0, 1.0)


if __name__ == "__main__":
  absltest.main()
