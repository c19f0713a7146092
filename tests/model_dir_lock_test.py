"""One run per model dir: a second run on a busy model dir is refused in one line
naming the holder; a lock left by a dead process is taken over."""
import os
import signal
import subprocess
import tempfile

from absl.testing import absltest

from radars_tf import model_dir_lock
from radars_tf.errors import UserError
from tests import cli

class ModelDirLockTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

  def hold_elsewhere(self):
    proc = cli.hold_lock(self.dir)
    self.addCleanup(proc.kill)
    return proc

  def test_busy_dir_is_refused_naming_the_holder(self):
    proc = self.hold_elsewhere()
    for attempt in (model_dir_lock.check_free, model_dir_lock.acquire):
      with self.assertRaisesRegex(UserError, rf"in use by pid {proc.pid} on "):
        attempt(self.dir)

  def test_lock_of_a_dead_process_is_taken_over(self):
    proc = self.hold_elsewhere()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    self.assertTrue(os.path.exists(os.path.join(self.dir, model_dir_lock.LOCK_FILE)))
    model_dir_lock.check_free(self.dir)
    model_dir_lock.acquire(self.dir)
    with open(os.path.join(self.dir, model_dir_lock.LOCK_FILE)) as f:
      self.assertEqual(f.read().split()[:2], ["pid", str(os.getpid())])
    model_dir_lock.release(self.dir)

  def test_second_run_is_refused_in_one_line(self):
    proc = self.hold_elsewhere()
    for extra in ([], ["--overwrite"]):
      run = subprocess.run(cli.command(cli.SMOKE_FLAGS, f"--model_dir={self.dir}",
                                       *extra),
                           cwd=cli.ROOT, env=cli.env(), capture_output=True,
                           text=True, timeout=300, check=False)
      self.assertEqual(run.returncode, 2, run.stderr)
      lines = [l for l in run.stderr.splitlines() if l.startswith("error")]
      self.assertEqual(lines, [f"error: --model_dir {self.dir} is in use by pid "
                               f"{proc.pid} on {os.uname().nodename}; wait for it "
                               "to end, or choose another --model_dir"])
      self.assertNotIn("Traceback", run.stderr)
      self.assertTrue(os.path.isdir(self.dir))       # not moved aside


if __name__ == "__main__":
  absltest.main()
