"""The bookkeeping every search loop does at a step boundary, in one place: stop
on a signal or a spent time budget, refuse a non-finite loss, move the progress
bar, write summaries."""
from typing import Callable, Dict, Optional

import numpy as np

from radars_tf.errors import UserError
from radars_tf.summaries import Progress, Summaries


class SearchFault(UserError):
  """A phase cannot go on (NaN loss, repeated out-of-memory); the last good
  checkpoint is kept."""


class Interrupted(Exception):
  """SIGTERM/SIGINT arrived; the search stopped at a step boundary."""


class TimeBudgetSpent(Exception):
  """--max_search_seconds passed; the search stops at a step boundary and answers
  from what it has."""


class StepReporter:
  """Called once per step by every loop of a search (warm-up, RL, DNAS, children).

  Args:
    stop_requested: true once SIGTERM/SIGINT arrived.
    time_is_up: true once the search time budget is spent.
  """

  def __init__(self, progress: Progress, summaries: Summaries,
               stop_requested: Callable[[], bool], time_is_up: Callable[[], bool]):
    self.progress, self.summaries = progress, summaries
    self.stop_requested, self.time_is_up = stop_requested, time_is_up

  def check_stop(self) -> None:
    """Raises Interrupted or TimeBudgetSpent at a step boundary."""
    if self.stop_requested():
      raise Interrupted()
    if self.time_is_up():
      raise TimeBudgetSpent()

  def step(self, index: int, where: str, loss: Optional[float] = None,
           show: Optional[Dict[str, float]] = None,
           log: Optional[Dict[str, float]] = None, log_step: int = 0) -> None:
    """After step `index` (0-based) of `where`: a non-finite `loss` stops the search;
    `show` goes to the progress bar, `log` to TensorBoard at `log_step`."""
    if loss is not None and not np.isfinite(loss):
      raise SearchFault(f"non-finite loss ({loss}) in {where}, step {index + 1}; "
                        "stopped, the last good checkpoint is kept (try a lower "
                        "--w_lr)")
    self.progress.update(index + 1, show or {})
    if log:
      self.summaries.scalars(log_step, log)
