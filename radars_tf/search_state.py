"""What a search has done so far, as one value saved by name in search_state.json:
the phase it is in, its counters, the subspace, and its record (pruning
decisions, events, best score over time, scored samples).

The phase is explicit: a method's next unit is a function of this state alone,
and a resumed search rebuilds every object from it (`search_methods.make_search`).
"""
import dataclasses
import enum
from typing import List, Optional, Tuple

from radars_tf.errors import UserError
from radars_tf.evidence import Evidence
from radars_tf.pruning import PruneDecision
from radars_tf.search_space import SearchSpace, Subspace

Sample = Tuple[Tuple[int, ...], float]     # (choice per layer, score)


class Phase(str, enum.Enum):
  """Where a search is. radars: WARMUP -> RL (until the DNAS estimate fits) -> DNAS
  -> DONE; dnas: DNAS -> DONE; rl and random: CHILDREN -> DONE."""
  WARMUP = "warmup"        # shared weights trained before the first reward
  RL = "rl"                # RL phases and pruning until the DNAS estimate fits
  DNAS = "dnas"            # DNAS rounds (radars: RL pruning between them)
  CHILDREN = "children"    # children trained from scratch and scored
  DONE = "done"


@dataclasses.dataclass
class SearchState:
  """Everything of a search that is not a TensorFlow variable."""
  method: str
  phase: Phase
  batch_size: int
  subspace: Optional[Subspace] = None    # supernet methods: the alive candidates
  units: int = 0                         # units finished (each one checkpointed)
  seconds: float = 0.0                   # search time spent before this process
  rl_phases: int = 0
  agent_steps: int = 0
  dnas_rounds: int = 0
  peak_step_bytes: int = 0               # measured, see memory_probe.claimed_peak
  decisions: List[PruneDecision] = dataclasses.field(default_factory=list)
  events: List[dict] = dataclasses.field(default_factory=list)
  best_curve: List[Tuple[float, float]] = dataclasses.field(default_factory=list)
  samples: List[Sample] = dataclasses.field(default_factory=list)
  evidence: Optional[Evidence] = None    # radars: rewards per candidate, all phases
  reference: List[int] = dataclasses.field(default_factory=list)   # local sampling

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d["phase"] = self.phase.value
    d["subspace"] = self.subspace.to_json() if self.subspace else None
    d["samples"] = [[list(c), r] for c, r in self.samples]
    d["evidence"] = self.evidence.to_json() if self.evidence else None
    return d

  @classmethod
  def from_json(cls, d: dict, space: SearchSpace) -> "SearchState":
    """The saved state, checked against `space`; a malformed one is a UserError."""
    try:
      state = cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})
      state.phase = Phase(d["phase"])
      state.decisions = [PruneDecision(**x) for x in d["decisions"]]
      state.best_curve = [(float(t), float(b)) for t, b in d["best_curve"]]
      state.samples = [(tuple(int(i) for i in c), float(r)) for c, r in d["samples"]]
      state.evidence = Evidence.from_json(d["evidence"]) if d["evidence"] else None
      if d["subspace"] is not None:
        state.subspace = Subspace.from_json(d["subspace"])
        state.subspace.check_against(space)
    except (KeyError, TypeError, ValueError) as e:
      raise UserError(f"the saved search state is malformed ({type(e).__name__}: "
                      f"{e}); pass --overwrite to start over") from e
    return state
