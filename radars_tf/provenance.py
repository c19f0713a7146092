"""What produced a run: the library versions and a digest of radars_tf's own
sources, recorded in results.json so that kept results can be tied to their code."""
import hashlib
import os
import platform

PACKAGE = os.path.dirname(os.path.abspath(__file__))


def code_digest(package: str = PACKAGE) -> str:
  """A digest of the package's Python sources: results kept under it were produced
  by exactly this code (committed or not)."""
  digest = hashlib.sha256()
  for root, dirs, files in os.walk(package):
    dirs.sort()
    for name in sorted(f for f in files if f.endswith(".py")):
      path = os.path.join(root, name)
      digest.update(os.path.relpath(path, package).encode() + b"\0")
      with open(path, "rb") as f:
        digest.update(f.read() + b"\0")
  return digest.hexdigest()[:16]


def versions() -> dict:
  """Python's, the libraries' and radars_tf's code versions."""
  import keras  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  import tf_agents  # pylint: disable=import-outside-toplevel
  return {"python": platform.python_version(), "tensorflow": tf.__version__,
          "keras": keras.__version__, "tf_agents": tf_agents.__version__,
          "tensorflow_datasets": tfds.__version__, "radars_tf": code_digest()}
