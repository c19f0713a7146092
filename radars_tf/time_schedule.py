"""How RADARS shares a search time budget among its stages, so that a short
budget still reaches DNAS: the warm-up ends by its share, the RL phases by theirs
(then pruning fits the memory budget on whatever evidence there is), and DNAS
gets the rest, its temperature annealed by the end of it. Without a time budget
no stage has a deadline."""
import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class TimeSchedule:
  warmup_end: float = math.inf     # seconds into the search
  rl_end: float = math.inf
  end: float = math.inf

  @classmethod
  def for_budget(cls, max_search_seconds: float, warmup_share: float,
                 rl_share: float) -> "TimeSchedule":
    if not max_search_seconds:
      return cls()
    return cls(warmup_share * max_search_seconds,
               (warmup_share + rl_share) * max_search_seconds, max_search_seconds)

  def warmup_over(self, elapsed: float) -> bool:
    return elapsed >= self.warmup_end

  def rl_over(self, elapsed: float) -> bool:
    return elapsed >= self.rl_end

  def dnas_progress(self, elapsed: float) -> float:
    """The share of DNAS's time (from the RL deadline to the end) spent; 0 without
    a time budget."""
    if math.isinf(self.end):
      return 0.0
    return min(1.0, max(0.0, (elapsed - self.rl_end) / (self.end - self.rl_end)))
