"""Resumable search state: TensorFlow variables through tf.train.CheckpointManager,
and the rest (subspace, pruning history, counters) as JSON written atomically
beside them. The JSON names the checkpoint it belongs to, so the two always agree.

Every kept checkpoint has its own copy of the JSON (`ckpt-N.state.json`): when the
newest state or checkpoint is damaged (truncated, corrupt, half-written on a full
disk), the run says so in one line and resumes from the newest intact pair.
"""
import glob
import json
import os
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from radars_tf.errors import UserError

STATE_FILE = "search_state.json"
SEARCH_CHECKPOINTS = "checkpoints"
FORMAT = "radars_tf.search_state.v1"


def write_json_atomic(path: str, value, default=None) -> None:
  """Writes through a temporary file and a rename: never a half-written file (a
  failed write leaves the previous file and no temporary one)."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(value, f, indent=2, default=default)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


class CheckpointWriteError(UserError):
  """The search state could not be saved (full disk, lost mount); the previous
  checkpoint is intact."""


def _first_line(e: Exception) -> str:
  text = str(e).strip()
  return text.splitlines()[0][:160] if text else type(e).__name__


def _read_state(path: str) -> dict:
  """The JSON state at `path`; ValueError when it is unreadable or foreign."""
  try:
    with open(path) as f:
      state = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(_first_line(e)) from e
  if not isinstance(state, dict) or state.get("format") != FORMAT:
    raise ValueError("not a radars_tf search state")
  return state


def _check_checkpoint(path: str) -> None:
  """Reads every tensor of the checkpoint at `path` (prefix): raises on a missing,
  truncated or corrupt one."""
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as e:
    # (IndexError: a truncated data file, "Read less bytes than requested")
    raise ValueError(f"{os.path.basename(path)}: {_first_line(e)}") from e


class SearchCheckpoints:
  """Saves the search state under `<model_dir>/checkpoints` and restores it from
  `<restore_dir>/checkpoints` (default the same; a cluster's non-chief workers save
  apart and restore the chief's)."""

  def __init__(self, model_dir: str, restore_dir: Optional[str] = None,
               max_to_keep: int = 3):
    self.directory = os.path.join(model_dir, SEARCH_CHECKPOINTS)
    self.state_path = os.path.join(model_dir, STATE_FILE)
    restore_dir = restore_dir or model_dir
    self.restore_directory = os.path.join(restore_dir, SEARCH_CHECKPOINTS)
    self.restore_state_path = os.path.join(restore_dir, STATE_FILE)
    self.max_to_keep = max_to_keep

  def save(self, objects: Dict[str, tf.Module], state: dict) -> str:
    """Checkpoints `objects` (the current ones: pruning changes the graph), then
    writes `state` naming that checkpoint, beside it and as the newest state."""
    try:
      manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects),
                                           self.directory, self.max_to_keep)
      path = manager.save(checkpoint_number=int(state["units"]))
      record = dict(state, format=FORMAT, checkpoint=os.path.basename(path))
      write_json_atomic(path + ".state.json", record)
      write_json_atomic(self.state_path, record)
    except (OSError, tf.errors.OpError) as e:
      raise CheckpointWriteError(
          f"cannot save the search state in {self.directory} ({_first_line(e)}); "
          "the previous checkpoint is intact: fix the cause (e.g. free disk "
          "space) and run the same command to resume") from e
    kept = {os.path.basename(p) for p in manager.checkpoints}
    for old in glob.glob(os.path.join(self.directory, "ckpt-*.state.json")):
      if os.path.basename(old)[:-len(".state.json")] not in kept:
        os.remove(old)
    return path

  def _candidates(self) -> List[Tuple[str, str]]:
    """(label, state path) to try, newest first: the newest state, then the copy
    beside every kept checkpoint."""
    copies = glob.glob(os.path.join(self.restore_directory, "ckpt-*.state.json"))
    copies.sort(key=lambda p: int(os.path.basename(p).split("-")[1].split(".")[0]),
                reverse=True)
    return [(STATE_FILE, self.restore_state_path)] + [
        (os.path.basename(p), p) for p in copies]

  def load_state(self) -> Optional[dict]:
    """The newest saved state whose checkpoint is intact, or None when the run has
    none yet. Skipping a damaged one is said in one line; when none is intact the
    run is refused."""
    candidates = [(label, path) for label, path in self._candidates()
                  if os.path.exists(path)]
    if not candidates:
      return None
    damaged = []
    for label, path in candidates:
      try:
        state = _read_state(path)
        _check_checkpoint(os.path.join(self.restore_directory, state["checkpoint"]))
      except (ValueError, KeyError, TypeError) as e:
        damaged.append(f"{label} ({_first_line(e)})")
        continue
      if damaged:
        print(f"warning: damaged search state skipped: {'; '.join(damaged)}; "
              f"resuming from {state['checkpoint']} (unit {state.get('units')})",
              file=sys.stderr, flush=True)
      return state
    raise UserError(f"no intact search state in {os.path.dirname(self.restore_state_path)}"
                    f": {'; '.join(damaged)}; move the model dir aside or pass "
                    "--overwrite to start over")

  def restore(self, objects: Dict[str, tf.Module], state: dict) -> None:
    """Restores `objects` (rebuilt for the saved subspace) from the state's
    checkpoint; a foreign checkpoint is a clear error."""
    path = os.path.join(self.restore_directory, state["checkpoint"])
    try:
      status = tf.train.Checkpoint(**objects).restore(path)
      status.assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError, KeyError) as e:
      raise UserError(f"checkpoint {path} cannot be restored ({_first_line(e)}); "
                      "pass --overwrite to start over") from e
