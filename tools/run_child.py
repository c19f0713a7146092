"""Runs radars_tf (or a tool built on it) as a child process, once: a finished run's
results.json is reused, so benchmarks built from many runs continue where they
stopped."""
import json
import os
import subprocess
import sys
from typing import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = ("-m", "radars_tf.run")


def run_once(args: Sequence[str], model_dir: str, entry: Sequence[str] = RUN) -> dict:
  """results.json of the run in `model_dir` (run with `args` unless it finished
  before), or {"refused": its one-line error} when it exits non-zero."""
  results = os.path.join(model_dir, "results.json")
  if not os.path.exists(results):
    proc = subprocess.run(
        [sys.executable, *entry, *args, f"--model_dir={model_dir}", "--quiet"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
        text=True, check=False)
    if proc.returncode:
      lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
      return {"refused": lines[-1][len("error: "):] if lines
              else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
  with open(results) as f:
    return json.load(f)
