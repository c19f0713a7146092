"""Results a benchmark keeps on disk between sittings, tied to the protocol that
produced them: a later run continues them only under the same protocol."""
import json
import os
import sys
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from radars_tf.checkpointing import write_json_atomic  # pylint: disable=wrong-import-position
from radars_tf.provenance import code_digest  # pylint: disable=wrong-import-position


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


class Ledger:
  """Finished runs' results in one JSON file under a protocol and the package's
  code digest (kept in the repository, e.g. docs/results/, a table survives
  machines whose run directories are gone). What a run's results keep: all but
  `not_kept` (the pruning history, ~30x the rest)."""

  def __init__(self, path: str, protocol: dict, not_kept=("pruning_history",)):
    self.path, self.not_kept = path, not_kept
    self.code = code_digest()
    self.kept = load(path, {**protocol, "code": self.code})
    self.runs = self.kept.setdefault("runs", {})

  def run(self, name: str, start: Callable[[], dict]) -> dict:
    """The kept results of run `name`, or `start()`'s, kept unless the run broke
    (killed, crashed: `{"refused": "exit ..."}` runs again next time); a one-line
    refusal is kept like a result. A result another radars_tf made (its
    results.json left in a run directory by an earlier comparison) stops the
    tool with one error line."""
    if name in self.runs:
      return self.runs[name]
    result = start()
    made_by = result.get("versions", {}).get("radars_tf", self.code)
    if made_by != self.code:
      raise SystemExit(f"error: run {name} was made by other radars_tf code "
                       f"({made_by}, this code is {self.code}): its directory is "
                       "from an earlier comparison; write elsewhere (another --out)")
    if not result.get("refused", "").startswith("exit "):
      self.runs[name] = {k: v for k, v in result.items() if k not in self.not_kept}
      write_json_atomic(self.path, self.kept)
    return result
