"""The command line: bad input gets one clear line and a non-zero exit."""
import os
import subprocess
import tempfile

from absl.testing import absltest
from absl.testing import parameterized

from tests import cli


def run(*args, timeout=300):
  return subprocess.run(cli.command(*args), cwd=cli.ROOT, env=cli.env(),
                        capture_output=True, text=True, timeout=timeout, check=False)


class BadInputTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.model_dir = os.path.join(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")),
                                  "run")

  def assert_one_line_error(self, proc, pattern):
    self.assertNotEqual(proc.returncode, 0)
    self.assertNotIn("Traceback", proc.stderr)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    self.assertLen(lines, 1, proc.stderr)
    self.assertRegex(lines[0], pattern)

  def test_cifar10_offline(self):
    proc = run("--dataset=cifar10", f"--data_dir={self.model_dir}_data",
               f"--model_dir={self.model_dir}")
    self.assert_one_line_error(proc, r"^error: dataset cifar10 is not available "
                                     r"offline .*tfds build cifar10")

  @parameterized.named_parameters(
      ("dataset", ["--dataset=nonsense"], r"unknown dataset 'nonsense'"),
      ("method", ["--method=magic"], r"unknown method 'magic'"),
      ("batch", ["--batch_size=0"], r"--batch_size must be > 0"),
      ("budget", ["--memory_budget_mb=-5"], r"--memory_budget_mb must be > 0"),
      ("epochs", ["--final_epochs=0"], r"--final_epochs must be > 0"),
      ("non_numeric", ["--final_epochs=many"], r"error: .*final_epochs"),
      ("space", ["--space=huge"], r"unknown search space 'huge'"),
      ("extra_arg", ["stray"], r"unexpected arguments stray"),
      ("genotype", ["--genotype=nonesuch"],
       r"--genotype nonesuch: neither a known genotype \(mobilenetv2"),
      ("genotype_space", ["--genotype=mobilenetv2", "--space=tiny"],
       r"the genotype is of space large with 14 layers, not of tiny"),
      ("label_smoothing", ["--label_smoothing=1.5"], r"--label_smoothing must be in"),
      ("augment", ["--final_augment=mixup"], r"unknown --final_augment 'mixup'"),
      ("warmup", ["--final_epochs=3", "--final_warmup_epochs=3"],
       r"--final_warmup_epochs \(3\) must be below --final_epochs \(3\)"),
      ("target", ["--target_mflops=-1"], r"--target_mflops must be >= 0"),
      ("target_ms", ["--target_ms=-1"], r"--target_ms must be >= 0"),
      ("episodes", ["--episodes_per_iteration=256"],
       r"--episodes_per_iteration applies only with --rewards_per_candidate=0 "
       r"\(RL phases are sized at 25 rewards per candidate\)"))
  def test_bad_flag(self, args, pattern):
    proc = run(*args, f"--model_dir={self.model_dir}")
    self.assert_one_line_error(proc, pattern)
    self.assertFalse(os.path.exists(os.path.join(self.model_dir, "results.json")))

  def test_unwritable_latency_cache(self):
    proc = run(cli.SMOKE_FLAGS, "--target_ms=5", "--latency_cache_dir=/proc/radars",
               f"--model_dir={self.model_dir}")
    self.assert_one_line_error(
        proc, r"cannot write the latency table to /proc/radars/latency-\w+\.json")

  def test_unwritable_model_dir(self):
    proc = run("--model_dir=/proc/radars_tf_run")
    self.assert_one_line_error(proc, r"^error: cannot write to --model_dir")

  def test_space_files(self):
    bad_json = os.path.join(self.model_dir + "_bad.json")
    with open(bad_json, "w") as f:
      f.write("{broken")
    proc = run(f"--space={bad_json}", f"--model_dir={self.model_dir}")
    self.assert_one_line_error(proc, r"cannot read search space")
    unknown_op = os.path.join(self.model_dir + "_op.json")
    with open(unknown_op, "w") as f:
      f.write('{"name": "x", "stem_channels": 4, "ops": ["conv_k3", "warp_k3"], '
              '"stages": [{"channels": 4, "stride": 1, "layers": 1}]}')
    proc = run(f"--space={unknown_op}", f"--model_dir={self.model_dir}")
    self.assert_one_line_error(proc, r"unknown op 'warp_k3'")

  def test_budget_below_one_op_per_layer(self):
    proc = run("--space=tiny", "--memory_budget_mb=1", "--max_train_examples=256",
               f"--model_dir={self.model_dir}")
    self.assert_one_line_error(proc, r"below what a one-op-per-layer supernet needs")

  def test_dnas_refuses_over_budget(self):
    proc = run("--method=dnas", "--memory_budget_mb=512", "--max_train_examples=256",
               f"--model_dir={self.model_dir}")
    self.assert_one_line_error(
        proc, r"^error: dnas: the full supernet needs \d+ MB, budget 512 MB$")

  def test_helpfull_documents_flags(self):
    proc = run("--helpfull")
    self.assertEqual(proc.returncode, 0)
    for flag in ("--method", "--memory_budget_mb", "--gpu_memory_limit_mb",
                 "--strategy", "--prune_confidence"):
      self.assertIn(flag, proc.stdout)


if __name__ == "__main__":
  absltest.main()
