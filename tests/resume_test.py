"""Checkpoint and resume: a run killed with SIGKILL mid-search and restarted ends
with the same genotype as an uninterrupted run; SIGTERM leaves a loadable
checkpoint and a clean exit; a damaged newest state falls back to the previous
intact checkpoint, and a run with no intact one is refused in one line."""
import json
import os
import signal
import subprocess
import tempfile
import time

from absl.testing import absltest
import tensorflow as tf

from radars_tf import network  # pylint: disable=unused-import  (registers the layers of model.keras)
from radars_tf.datasets import fashion_mnist_debian
from tests import cli

ARGS = [cli.SMOKE_FLAGS, "--deterministic", "--seed=3", "--quiet"]


def start(model_dir, *extra):
  return subprocess.Popen(cli.command(*ARGS, f"--model_dir={model_dir}", *extra),
                          cwd=cli.ROOT, env=cli.env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def finish(model_dir, *extra):
  proc = start(model_dir, *extra)
  out, err = proc.communicate(timeout=600)
  return proc.returncode, out, err


def units_done(model_dir):
  try:
    with open(os.path.join(model_dir, "search_state.json")) as f:
      return json.load(f)["units"]
  except (OSError, ValueError, KeyError):
    return 0


def wait_for_units(proc, model_dir, n, timeout=300):
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    if units_done(model_dir) >= n:
      return True
    time.sleep(0.2)
  return False


def kill_after_units(model_dir, n):
  """Starts a run and SIGKILLs it once `n` units are checkpointed."""
  proc = start(model_dir)
  if not wait_for_units(proc, model_dir, n):
    proc.kill()
    raise AssertionError(f"no checkpoint of {n} units in time")
  proc.send_signal(signal.SIGKILL)
  proc.communicate()


def results(model_dir):
  with open(os.path.join(model_dir, "results.json")) as f:
    return json.load(f)


def weights(model_dir):
  return tf.keras.models.load_model(os.path.join(model_dir, "model.keras")
                                    ).get_weights()


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class ResumeTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

  def test_sigkill_and_resume_gives_the_same_genotype(self):
    reference = os.path.join(self.tmp, "reference")
    code, _, err = finish(reference)
    self.assertEqual(code, 0, err)

    killed = os.path.join(self.tmp, "killed")
    kill_after_units(killed, 2)
    self.assertFalse(os.path.exists(os.path.join(killed, "results.json")))
    code, _, err = finish(killed)
    self.assertEqual(code, 0, err)
    a, b = results(reference), results(killed)
    self.assertEqual(a["genotype"], b["genotype"])
    self.assertEqual([(d["layer"], d["op"]) for d in a["pruning_history"]],
                     [(d["layer"], d["op"]) for d in b["pruning_history"]])

  def test_sigterm_saves_a_loadable_checkpoint(self):
    model_dir = os.path.join(self.tmp, "term")
    proc = start(model_dir)
    self.assertTrue(wait_for_units(proc, model_dir, 1), "no checkpoint in time")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    # Final training stops on SIGTERM too: no point of the run ends with 0.
    self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
    self.assertIn("interrupted by signal", err)
    self.assertNotIn("Traceback", err)
    with open(os.path.join(model_dir, "search_state.json")) as f:
      state = json.load(f)
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints",
                                                   state["checkpoint"]))
    self.assertNotEmpty(reader.get_variable_to_shape_map())
    code, _, err = finish(model_dir)      # and it resumes to the end
    self.assertEqual(code, 0, err)

  def test_final_training_resumes_to_the_same_weights(self):
    """SIGKILL and SIGTERM during final training; each restarted run ends with
    the weights of an uninterrupted one."""
    final = ("--final_epochs=20", "--final_save_steps=20")
    reference = os.path.join(self.tmp, "final_reference")
    code, _, err = finish(reference, *final)
    self.assertEqual(code, 0, err)
    for sig in (signal.SIGKILL, signal.SIGTERM):
      model_dir = os.path.join(self.tmp, f"final_{sig}")
      proc = start(model_dir, *final)
      marker = os.path.join(model_dir, "final_checkpoints", "checkpoint")
      deadline = time.time() + 300
      while proc.poll() is None and not os.path.exists(marker):
        self.assertLess(time.time(), deadline, "no final checkpoint in time")
        time.sleep(0.05)
      proc.send_signal(sig)
      _, err = proc.communicate(timeout=300)
      self.assertEqual(proc.returncode, -sig if sig == signal.SIGKILL else 128 + sig,
                       err)
      if sig == signal.SIGTERM:
        self.assertRegex(err, r"interrupted by signal 15: final training stopped "
                              r"at step \d+ .*run the same command to resume")
        self.assertNotIn("Traceback", err)
      self.assertFalse(os.path.exists(os.path.join(model_dir, "results.json")))
      code, _, err = finish(model_dir, *final)
      self.assertEqual(code, 0, err)
      self.assertEqual(results(reference)["test_accuracy"],
                       results(model_dir)["test_accuracy"])
      for a, b in zip(weights(reference), weights(model_dir)):
        self.assertTrue((a == b).all(), f"weights differ after {sig!r}")

  def test_corrupt_checkpoints_are_refused(self):
    model_dir = os.path.join(self.tmp, "corrupt")
    kill_after_units(model_dir, 1)
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    for name in os.listdir(ckpt_dir):
      if name.endswith(".index"):
        with open(os.path.join(ckpt_dir, name), "wb") as f:
          f.write(b"not a checkpoint")
    code, _, err = finish(model_dir)
    self.assertEqual(code, 2)
    lines = [l for l in err.splitlines() if l.strip()]
    self.assertLen(lines, 1, err)
    self.assertRegex(lines[0], r"^error: no intact search state in .*: search_state.json "
                              r"\(ckpt-\d+: .*\); ckpt-1.state.json \(ckpt-1: ")

  def test_damaged_newest_state_falls_back_to_the_previous_checkpoint(self):
    model_dir = os.path.join(self.tmp, "damaged")
    kill_after_units(model_dir, 3)
    newest = units_done(model_dir)
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    for name in os.listdir(ckpt_dir):        # the newest checkpoint, truncated
      if name.startswith(f"ckpt-{newest}.data"):
        path = os.path.join(ckpt_dir, name)
        with open(path, "r+b") as f:
          f.truncate(os.path.getsize(path) // 2)
    with open(os.path.join(model_dir, "search_state.json"), "r+") as f:
      f.truncate(10)                         # and the newest state, half-written
    code, _, err = finish(model_dir)
    self.assertEqual(code, 0, err)
    self.assertNotIn("Traceback", err)
    self.assertRegex(err, rf"warning: damaged search state skipped: "
                          rf"search_state.json \(.*\); ckpt-{newest}.state.json "
                          rf"\(.*\); resuming from ckpt-{newest - 1} "
                          rf"\(unit {newest - 1}\)")
    self.assertTrue(os.path.exists(os.path.join(model_dir, "results.json")))

  def test_different_flags_are_refused(self):
    model_dir = os.path.join(self.tmp, "flags")
    kill_after_units(model_dir, 1)
    before = sorted(os.listdir(model_dir))
    code, _, err = finish(model_dir, "--batch_size=16")
    self.assertEqual(code, 2)
    self.assertIn("holds a run with different flags (batch_size)", err)
    self.assertEqual(before, sorted(os.listdir(model_dir)))


if __name__ == "__main__":
  absltest.main()
