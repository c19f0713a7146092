"""Results a benchmark keeps on disk between sittings, tied to the protocol that
produced them: a later run continues them only under the same protocol."""
import json
import os


def load(path: str, protocol: dict) -> dict:
  """The JSON object kept in `path` (with its "protocol"), or a new one holding
  only `protocol`; exits with one error line if `path` was kept under another."""
  if not os.path.exists(path):
    return {"protocol": protocol}
  with open(path) as f:
    kept = json.load(f)
  if kept.get("protocol") != protocol:
    raise SystemExit(f"error: {path} holds results of another protocol (space, "
                     "config, flags or code changed); use another --out")
  return kept
