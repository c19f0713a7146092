"""Errors a user can fix: `run.py` prints them as one line and exits non-zero."""


class UserError(Exception):
  """Bad input or an unmet precondition, reported without a traceback."""


class DataUnavailableError(UserError):
  """A dataset cannot be loaded here (offline, missing manual files, bad checksum)."""


class MemoryBudgetError(UserError):
  """A (sub)space does not fit the memory budget and cannot be made to fit."""
