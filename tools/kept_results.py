"""Results a benchmark keeps on disk between sittings, tied to the protocol that
produced them: a later run continues them only under the same protocol."""
import hashlib
import json
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "radars_tf")


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
