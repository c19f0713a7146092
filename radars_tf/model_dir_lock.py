"""One run per model dir: an exclusive `flock` on `<model_dir>/.lock`, held for the
life of the process. The kernel drops it when its holder dies however it dies, so
a lock left by a killed run never blocks the next; the holder writes its pid and
host into the file so that a refused run can say who holds it."""
import fcntl
import os
import socket

from radars_tf.errors import UserError

LOCK_FILE = ".lock"
_HELD = {}     # model dir -> open file of a lock this process holds


def acquire(model_dir: str) -> None:
  """Takes the lock of `model_dir` for this process, or raises UserError naming
  the process that holds it."""
  path = os.path.join(model_dir, LOCK_FILE)
  if path in _HELD:
    return
  f = open(path, "a+")   # pylint: disable=consider-using-with
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    f.close()
    _refuse(model_dir, path)
  f.seek(0)
  f.truncate()
  f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
  f.flush()
  _HELD[path] = f


def check_free(model_dir: str) -> None:
  """Raises UserError naming the holder while another process holds the lock of
  `model_dir`; takes nothing."""
  path = os.path.join(model_dir, LOCK_FILE)
  if path in _HELD or not os.path.exists(path):
    return
  with open(path) as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      _refuse(model_dir, path)
    fcntl.flock(f, fcntl.LOCK_UN)


def _refuse(model_dir: str, path: str) -> None:
  with open(path) as f:
    holder = f.read().strip() or "another process"
  raise UserError(f"--model_dir {model_dir} is in use by {holder}; wait for it "
                  "to end, or choose another --model_dir")


def release(model_dir: str) -> None:
  f = _HELD.pop(os.path.join(model_dir, LOCK_FILE), None)
  if f:
    fcntl.flock(f, fcntl.LOCK_UN)
    f.close()
