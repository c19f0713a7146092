"""Helpers for tests that run `python -m radars_tf.run` in a subprocess, and that
load the scripts of tools/."""
import importlib.util
import os
import socket
import subprocess
import sys

import radars_tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(radars_tf.__file__)))
SMOKE_FLAGS = f"--flagfile={ROOT}/flags/smoke.cfg"


def tool(name: str):
  """tools/<name>.py loaded as a module (tools/ is not a package)."""
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(ROOT, "tools", name + ".py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def command(*args):
  return [sys.executable, "-m", "radars_tf.run", *args]


def env(**extra):
  """The environment a user has: the package importable, TF's default logging."""
  e = dict(os.environ, PYTHONPATH=ROOT, **extra)
  e.pop("TF_CPP_MIN_LOG_LEVEL", None)
  return e


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def hold_lock(model_dir: str) -> subprocess.Popen:
  """Another process holding `model_dir`'s run lock (as a live run does) until
  killed; returns once it holds it."""
  proc = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from radars_tf import model_dir_lock; "
       "model_dir_lock.acquire(sys.argv[1]); print('held', flush=True); "
       "time.sleep(600)", model_dir], cwd=ROOT, env=env(), stdout=subprocess.PIPE,
      text=True)
  if proc.stdout.readline().strip() != "held":
    proc.kill()
    raise RuntimeError(f"the lock holder did not take {model_dir}")
  return proc
