"""Results a benchmark keeps on disk between sittings, tied to the protocol that
produced them: a later run continues them only under the same protocol."""
import hashlib
import json
import os
import sys
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from radars_tf.checkpointing import write_json_atomic  # pylint: disable=wrong-import-position

PACKAGE = os.path.join(ROOT, "radars_tf")


def load(path: str, protocol: dict) -> dict:
  """The JSON object kept in `path` (with its "protocol"), or a new one holding
  only `protocol`; exits with one error line if `path` was kept under another."""
  if not os.path.exists(path):
    return {"protocol": protocol}
  with open(path) as f:
    kept = json.load(f)
  if kept.get("protocol") != protocol:
    raise SystemExit(f"error: {path} holds results of another protocol (space, "
                     "config, flags or code changed); write elsewhere (another "
                     "--out, or --ledger / --ground_truth where the tool has one)")
  return kept


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


class Ledger:
  """Finished runs' results in one JSON file under a protocol and the package's
  code digest (kept in the repository, e.g. docs/results/, a table survives
  machines whose run directories are gone). What a run's results keep: all but
  `not_kept` (the pruning history, ~30x the rest)."""

  def __init__(self, path: str, protocol: dict, not_kept=("pruning_history",)):
    self.path, self.not_kept = path, not_kept
    self.kept = load(path, {**protocol, "code": code_digest()})
    self.runs = self.kept.setdefault("runs", {})

  def run(self, name: str, start: Callable[[], dict]) -> dict:
    """The kept results of run `name`, or `start()`'s, kept unless the run broke
    (killed, crashed: `{"refused": "exit ..."}` runs again next time); a one-line
    refusal is kept like a result."""
    if name in self.runs:
      return self.runs[name]
    result = start()
    if not result.get("refused", "").startswith("exit "):
      self.runs[name] = {k: v for k, v in result.items() if k not in self.not_kept}
      write_json_atomic(self.path, self.kept)
    return result
