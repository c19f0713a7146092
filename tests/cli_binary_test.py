"""The command line as a Bazel py_binary (//radars_tf:run): it starts, documents
its flags, and refuses a bad one in one line."""
import os
import subprocess

from absl.testing import absltest


def binary():
  """The py_binary's launcher in this test's runfiles (Bazel sets TEST_SRCDIR)."""
  return os.path.join(os.environ["TEST_SRCDIR"], "radars_tf", "radars_tf", "run")


@absltest.skipUnless("TEST_SRCDIR" in os.environ, "runs under Bazel only")
class CliBinaryTest(absltest.TestCase):

  def run_binary(self, *args):
    return subprocess.run([binary(), *args], capture_output=True, text=True,
                          timeout=300, check=False)

  def test_documents_its_flags(self):
    proc = self.run_binary("--helpfull")
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    for flag in ("--target_mflops", "--genotype", "--memory_budget_mb"):
      self.assertIn(flag, proc.stdout)

  def test_refuses_a_bad_flag(self):
    proc = self.run_binary("--method=magic")
    self.assertEqual(proc.returncode, 2)
    self.assertEqual(proc.stderr.strip().splitlines()[-1],
                     "error: unknown method 'magic'; choose one of: radars, dnas, "
                     "rl, random")


if __name__ == "__main__":
  absltest.main()
