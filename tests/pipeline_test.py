"""A smoke search run to the end: every artefact exists, the exported models reload
and reproduce the reported test accuracy, results.json carries its fields."""
import dataclasses
import glob
import json
import os
import shutil
import subprocess
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from radars_tf import data, pipeline, provenance
from radars_tf.config import RunConfig
from radars_tf.errors import UserError
from radars_tf.step_reporter import SearchFault
from radars_tf.datasets import fashion_mnist_debian
from radars_tf import ops  # pylint: disable=unused-import  (registers custom layers)
from radars_tf import network  # pylint: disable=unused-import

from tests import cli

FIELDS = ("method", "dataset", "test_accuracy", "params", "flops", "search_seconds",
          "final_train_seconds", "budget_mb", "measured_peak_mb", "pruning_history",
          "versions", "seed", "flags", "genotype", "replicas", "per_replica_batch")


def smoke_run(model_dir, *extra):
  return subprocess.run(
      cli.command(cli.SMOKE_FLAGS, f"--model_dir={model_dir}", *extra), cwd=cli.ROOT,
      env=cli.env(), capture_output=True, text=True, timeout=600, check=False)


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class PipelineTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model_dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")),
                                 "smoke")
    cls.proc = smoke_run(cls.model_dir)
    with open(os.path.join(cls.model_dir, "results.json")) as f:
      cls.results = json.load(f)

  def test_exit_and_summary_table(self):
    self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
    self.assertIn("test accuracy", self.proc.stdout)
    self.assertNotIn("Traceback", self.proc.stderr)

  def test_results_fields(self):
    for field in FIELDS:
      self.assertIn(field, self.results)
    self.assertEqual(self.results["method"], "radars")
    self.assertNotEmpty(self.results["pruning_history"])
    d = self.results["pruning_history"][0]
    for key in ("round", "layer", "op", "policy_prob", "estimate_before_mb",
                "estimate_after_mb", "budget_mb", "log10_size_after"):
      self.assertIn(key, d)
    self.assertLessEqual(self.results["measured_peak_mb"], self.results["budget_mb"])
    self.assertEqual(self.results["versions"]["tensorflow"], tf.__version__)
    self.assertEqual(self.results["versions"]["radars_tf"], provenance.code_digest())

  def test_exports_reproduce_test_accuracy(self):
    src = data.DataSource("fashion_mnist", max_train_examples=512,
                          max_test_examples=256)
    keras_model = tf.keras.models.load_model(
        os.path.join(self.model_dir, "model.keras"))
    saved = tf.saved_model.load(os.path.join(self.model_dir, "saved_model"))
    serve = saved.signatures["serving_default"]
    correct_k = correct_s = n = 0
    for x, y in src.dataset("test", 64, training=False):
      correct_k += int(np.sum(np.argmax(keras_model(x, training=False), -1) == y))
      out = list(serve(x).values())[0]
      correct_s += int(np.sum(np.argmax(out, -1) == y))
      n += int(y.shape[0])
    self.assertEqual(n, self.results["test_examples"])
    self.assertAlmostEqual(correct_k / n, self.results["test_accuracy"], places=5)
    self.assertAlmostEqual(correct_s / n, self.results["test_accuracy"], places=5)

  def test_genotype_file(self):
    with open(os.path.join(self.model_dir, "genotype.json")) as f:
      geno = json.load(f)
    self.assertEqual(geno["ops"], self.results["genotype"]["ops"])

  def test_damaged_results_are_named(self):
    copy = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "copy")
    shutil.copytree(self.model_dir, copy)
    with open(os.path.join(copy, "results.json"), "r+") as f:
      f.truncate(20)
    proc = smoke_run(copy)
    self.assertEqual(proc.returncode, 2)
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    self.assertLen(lines, 1, proc.stderr)
    self.assertRegex(lines[0], r"results.json is damaged .*--overwrite")

  def test_finished_run_is_not_overwritten(self):
    before = os.path.getmtime(os.path.join(self.model_dir, "results.json"))
    proc = smoke_run(self.model_dir)
    self.assertEqual(proc.returncode, 2)
    self.assertIn("holds a finished run", proc.stderr)
    self.assertEqual(before, os.path.getmtime(os.path.join(self.model_dir,
                                                           "results.json")))


class OverwriteTest(absltest.TestCase):

  def test_overwrite_moves_the_earlier_run_aside_intact(self):
    d = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "run")
    os.makedirs(d)
    cfg = RunConfig(model_dir=d)
    with open(os.path.join(d, "config.json"), "w") as f:
      f.write(cfg.to_json())
    with open(os.path.join(d, "results.json"), "w") as f:
      f.write('{"test_accuracy": 0.9}')
    with self.assertRaisesRegex(UserError, "holds a finished run"):
      pipeline.prepare_model_dir(cfg)
    pipeline.prepare_model_dir(dataclasses.replace(cfg, overwrite=True))
    self.assertEqual(os.listdir(d), [])
    aside = glob.glob(d + ".old-*")
    self.assertLen(aside, 1)
    with open(os.path.join(aside[0], "results.json")) as f:
      self.assertEqual(json.load(f), {"test_accuracy": 0.9})

  def test_a_worker_other_than_the_chief_never_moves_it(self):
    d = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "run")
    os.makedirs(d)
    cfg = RunConfig(model_dir=d, overwrite=True)
    with open(os.path.join(d, "results.json"), "w") as f:
      f.write("{}")
    with open(os.path.join(d, "config.json"), "w") as f:
      f.write(cfg.to_json())
    pipeline.prepare_model_dir(cfg, chief=False)
    self.assertEqual(sorted(os.listdir(d)), ["config.json", "results.json"])


def _touch(path):
  open(path, "w").close()  # pylint: disable=consider-using-with


class UnstartedRunTest(absltest.TestCase):
  """A command refused before its first save (a budget below one op per layer, a
  dataset offline) leaves a config; the corrected command takes the dir."""

  def setUp(self):
    super().setUp()
    self.dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "run")
    os.makedirs(os.path.join(self.dir, "logs", "search"))
    with open(os.path.join(self.dir, "logs", "search", "events"), "w") as f:
      f.write("hparams of the refused command")
    with open(os.path.join(self.dir, "config.json"), "w") as f:
      f.write(RunConfig(model_dir=self.dir, memory_budget_mb=1).to_json())
    self.fixed = RunConfig(model_dir=self.dir, memory_budget_mb=64)

  def test_the_corrected_command_takes_the_dir_and_keeps_its_logs_apart(self):
    pipeline.prepare_model_dir(self.fixed)
    aside = glob.glob(os.path.join(self.dir, "logs.old-*"))
    self.assertLen(aside, 1)
    self.assertCountEqual(os.listdir(self.dir),
                          ["config.json", os.path.basename(aside[0])])
    with open(os.path.join(aside[0], "search", "events")) as f:
      self.assertEqual(f.read(), "hparams of the refused command")

  def test_a_worker_other_than_the_chief_moves_nothing(self):
    pipeline.prepare_model_dir(self.fixed, chief=False)
    self.assertTrue(os.path.exists(os.path.join(self.dir, "logs", "search", "events")))

  def test_a_run_that_saved_its_state_is_still_refused(self):
    for saved, make, remove in (("search_state.json", _touch, os.remove),
                                ("checkpoints", os.makedirs, shutil.rmtree),
                                ("final_checkpoints", os.makedirs, shutil.rmtree)):
      make(os.path.join(self.dir, saved))
      with self.assertRaisesRegex(UserError, r"holds a run with different flags "
                                             r"\(memory_budget_mb\)"):
        pipeline.prepare_model_dir(self.fixed)
      remove(os.path.join(self.dir, saved))
    self.assertTrue(os.path.exists(os.path.join(self.dir, "logs", "search", "events")))

  def test_a_live_command_keeps_its_dir(self):
    holder = cli.hold_lock(self.dir)
    self.addCleanup(holder.kill)
    with self.assertRaisesRegex(UserError, rf"in use by pid {holder.pid} "):
      pipeline.prepare_model_dir(self.fixed)
    self.assertTrue(os.path.exists(os.path.join(self.dir, "logs", "search", "events")))


class _ReshapeSearch:
  """A search whose first op fails in a TensorFlow kernel."""

  def run(self):
    tf.reshape(tf.range(3), [2])


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class FaultTest(absltest.TestCase):

  def test_a_tensorflow_failure_is_one_line_naming_what_is_saved(self):
    d = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "run")
    cfg = RunConfig(model_dir=d, dataset="fashion_mnist", space="tiny",
                    max_train_examples=64, max_test_examples=64, batch_size=16,
                    memory_budget_mb=12)
    with self.assertRaisesRegex(
        SearchFault, r"^TensorFlow failed: InvalidArgumentError: Input to reshape is "
                     r"a tensor with 3 values, but the requested shape has 2 \[Op:Reshape\]; what "
                     rf"finished is saved in {d}: run the same command to resume$"):
      pipeline.run(cfg, quiet=True, make_search=lambda ctx: _ReshapeSearch())


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class GivenGenotypeTest(absltest.TestCase):
  """--genotype skips the search and retrains a known genotype like a found one,
  with the final recipe's flags recorded."""

  def test_known_genotype_retrained(self):
    model_dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")), "g")
    proc = smoke_run(model_dir, "--space=large", "--genotype=plain_conv",
                     "--final_augment=crop_flip", "--label_smoothing=0.1",
                     "--final_warmup_epochs=0.5")
    self.assertEqual(proc.returncode, 0, proc.stderr)
    with open(os.path.join(model_dir, "results.json")) as f:
      results = json.load(f)
    self.assertEqual(results["method"], "genotype:plain_conv")
    self.assertEqual(results["genotype"]["ops"], ["conv_k3"] * 14)
    self.assertEqual(results["pruning_history"], [])
    self.assertEqual(results["final_recipe"],
                     {"epochs": 1, "lr": 0.05, "schedule": "linear warm-up, cosine decay",
                      "warmup_epochs": 0.5, "label_smoothing": 0.1, "augment": True})
    self.assertNotIn("DNAS estimate", proc.stdout)

  def test_latency_target_reports_the_measured_step(self):
    tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    geno = os.path.join(tmp, "tiny.json")
    with open(geno, "w") as f:
      json.dump({"version": 1, "space": "tiny",
                 "ops": ["conv_k3", "sepconv_k3", "skip"]}, f)
    proc = smoke_run(os.path.join(tmp, "run"), f"--genotype={geno}", "--target_ms=5",
                     f"--latency_cache_dir={tmp}/cache")
    self.assertEqual(proc.returncode, 0, proc.stderr)
    with open(os.path.join(tmp, "run", "results.json")) as f:
      results = json.load(f)
    self.assertEqual(results["target_ms"], 5)
    self.assertGreater(results["measured_step_ms"], 0)
    self.assertGreater(results["predicted_step_ms"], 0)
    self.assertRegex(proc.stdout, r"train step +\| \d+ ms measured, \d+ ms predicted "
                                  r"\(target 5 ms: [+-]\d+%\)")
    self.assertLen(glob.glob(os.path.join(tmp, "cache", "latency-*.json")), 1)


if __name__ == "__main__":
  absltest.main()
