"""Resumable search state: TensorFlow variables through tf.train.CheckpointManager,
and the rest (subspace, pruning history, counters) as JSON written atomically
beside them. The JSON names the checkpoint it belongs to, so the two always agree.
"""
import json
import os
import tempfile
from typing import Dict, Optional

import tensorflow as tf

from radars_tf.errors import UserError

STATE_FILE = "search_state.json"
FORMAT = "radars_tf.search_state.v1"


def write_json_atomic(path: str, value, default=None) -> None:
  """Writes through a temporary file and a rename: never a half-written file."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
  with os.fdopen(fd, "w") as f:
    json.dump(value, f, indent=2, default=default)
  os.replace(tmp, path)


class SearchCheckpoints:
  """Saves and restores the search state under `<model_dir>/checkpoints`."""

  def __init__(self, model_dir: str, max_to_keep: int = 3):
    self.directory = os.path.join(model_dir, "checkpoints")
    self.state_path = os.path.join(model_dir, STATE_FILE)
    self.max_to_keep = max_to_keep

  def save(self, objects: Dict[str, tf.Module], state: dict) -> str:
    """Checkpoints `objects` (the current ones: pruning changes the graph), then
    writes `state` naming that checkpoint."""
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects),
                                         self.directory, self.max_to_keep)
    path = manager.save(checkpoint_number=int(state["units"]))
    write_json_atomic(self.state_path, dict(state, format=FORMAT,
                                            checkpoint=os.path.basename(path)))
    return path

  def load_state(self) -> Optional[dict]:
    """The saved JSON state, or None when the run has none yet."""
    if not os.path.exists(self.state_path):
      return None
    try:
      with open(self.state_path) as f:
        state = json.load(f)
    except (OSError, ValueError) as e:
      raise UserError(f"{self.state_path} is corrupt ({e}); move it aside or pass "
                      "--overwrite") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
      raise UserError(f"{self.state_path} is not a radars_tf search state; "
                      "pass --overwrite or use another --model_dir")
    return state

  def restore(self, objects: Dict[str, tf.Module], state: dict) -> None:
    """Restores `objects` (rebuilt for the saved subspace) from the state's
    checkpoint; a corrupt or foreign checkpoint is a clear error."""
    path = os.path.join(self.directory, state["checkpoint"])
    try:
      status = tf.train.Checkpoint(**objects).restore(path)
      status.assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError, KeyError) as e:
      first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
      raise UserError(f"checkpoint {path} cannot be restored ({first}); pass "
                      "--overwrite to start over") from e
