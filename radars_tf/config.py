"""The run's configuration: one frozen value, checked once, written to the model dir.

`run.py` turns its flags into a `RunConfig`; nothing below it reads flags.
"""
import dataclasses
import json
from typing import Optional

from radars_tf import known_genotypes
from radars_tf.errors import UserError

METHODS = ("radars", "dnas", "rl", "random")
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")
PATH_SAMPLING = ("uniform", "fair", "local")    # see path_sampler.py
FINAL_AUGMENT = {"auto": None, "crop_flip": True, "none": False}


def check_val_fraction(value: float) -> None:
  """The held-out part of the train split must leave both parts non-empty."""
  if not 0.0 < value < 1.0:
    raise UserError(f"--val_fraction must be in (0, 1), got {value}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
  # What to search, on what.
  method: str = "radars"
  dataset: str = "fashion_mnist"
  space: str = "large"
  data_dir: Optional[str] = None
  manual_dir: Optional[str] = None
  model_dir: str = "runs/default"
  seed: int = 0
  deterministic: bool = False
  # Data.
  val_fraction: float = 0.5
  max_train_examples: int = 0
  max_test_examples: int = 0
  batch_size: int = 64
  # Memory.
  memory_budget_mb: float = 512.0
  gpu_memory_limit_mb: float = 0.0
  memory_headroom_mb: float = 256.0
  # DNAS.
  dnas_rounds: int = 3
  dnas_steps_per_round: int = 40
  w_lr: float = 0.05
  alpha_lr: float = 0.03
  gumbel: bool = False
  cost_weight: float = 0.0
  # cost_objective.py: TuNAS' absolute reward. The main job's 15 MFLOPs (about 2.5x
  # below its untargeted models) buys 8 final epochs in its 30 minutes on 2 cores.
  target_mflops: float = 15.0
  cost_beta: float = 0.07
  target_ms: float = 0.0            # latency_table.py: a measured train-step target
  latency_cache_dir: str = "~/.cache/radars_tf"
  converge_threshold: float = 0.9
  # Agent and pruning.
  rl_phases_max: int = 20
  rl_iterations_per_phase: int = 4
  episodes_per_iteration: int = 64
  # rl_phase.episodes_per_iteration: each phase sized in rewards per candidate of
  # its widest layer (0: --episodes_per_iteration). 25 by the main jobs of the
  # twenty-fifth and -sixth sittings (README, "RL phases sized in rewards").
  rewards_per_candidate: float = 25.0
  warmup_steps: int = 150
  path_sampling: str = "uniform"
  vary_layers: int = 2
  single_path_compiled: bool = False
  path_train_steps: int = 20
  score_batches: int = 1
  agent_lr: float = 0.05
  entropy_weight: float = 0.01
  # Pruning on evidence (pruning.EvidenceRule) and on confident alphas.
  min_samples: int = 16
  prune_confidence: float = 2.5
  max_samples: int = 64
  alpha_prune_ratio: float = 0.3
  # Baselines (rl, random): children trained from scratch.
  child_samples: int = 16
  child_train_steps: int = 50
  children_per_update: int = 8      # rl: children the agent samples per update
  # All methods: stop at the next step after this many seconds (0: no limit).
  max_search_seconds: float = 0.0
  # radars under a time budget (time_schedule.py): the warm-up ends by this share
  # of it, the RL phases by this share more; DNAS gets the rest.
  warmup_time_share: float = 0.25
  rl_time_share: float = 0.35
  # Final training.
  final_epochs: int = 8
  final_lr: float = 0.05
  final_save_steps: int = 200
  final_warmup_epochs: float = 0.0
  label_smoothing: float = 0.0
  final_augment: str = "auto"       # FINAL_AUGMENT
  # Scale-out.
  strategy: str = "default"
  tpu: str = ""
  # Behaviour of the run.
  overwrite: bool = False
  # No search: retrain this genotype (a known_genotypes name or a JSON file).
  genotype: str = ""

  def validate(self, methods=METHODS) -> "RunConfig":
    """Raises UserError with one clear line on the first bad value. `methods`: the
    method names a caller can run (benchmarks add their own)."""
    if self.method not in methods:
      raise UserError(f"unknown method '{self.method}'; choose one of: "
                      + ", ".join(methods))
    if self.strategy not in STRATEGIES:
      raise UserError(f"unknown strategy '{self.strategy}'; choose one of: "
                      + ", ".join(STRATEGIES))
    positive = ("batch_size", "dnas_steps_per_round", "rl_iterations_per_phase",
                "episodes_per_iteration", "child_samples", "child_train_steps",
                "children_per_update",
                "score_batches", "rl_phases_max", "min_samples", "max_samples",
                "vary_layers", "memory_budget_mb", "w_lr",
                "alpha_lr", "agent_lr", "final_lr", "final_epochs")
    for name in positive:
      if not getattr(self, name) > 0:
        raise UserError(f"--{name} must be > 0, got {getattr(self, name)}")
    non_negative = ("dnas_rounds", "path_train_steps", "warmup_steps",
                    "max_train_examples", "max_test_examples", "gpu_memory_limit_mb",
                    "memory_headroom_mb", "cost_weight", "target_mflops", "target_ms",
                    "cost_beta", "entropy_weight", "seed", "rewards_per_candidate",
                    "max_search_seconds", "prune_confidence",
                    "final_save_steps", "final_warmup_epochs")
    for name in non_negative:
      if getattr(self, name) < 0:
        raise UserError(f"--{name} must be >= 0, got {getattr(self, name)}")
    for name in ("alpha_prune_ratio", "converge_threshold"):
      if not 0.0 < getattr(self, name) <= 1.0:
        raise UserError(f"--{name} must be in (0, 1], got {getattr(self, name)}")
    check_val_fraction(self.val_fraction)
    for name in ("warmup_time_share", "rl_time_share"):
      if not 0.0 <= getattr(self, name) < 1.0:
        raise UserError(f"--{name} must be in [0, 1), got {getattr(self, name)}")
    if self.warmup_time_share + self.rl_time_share >= 1.0:
      raise UserError("--warmup_time_share + --rl_time_share must be below 1 (DNAS "
                      f"gets the rest), got {self.warmup_time_share + self.rl_time_share:g}")
    if not 0.0 <= self.label_smoothing < 1.0:
      raise UserError(f"--label_smoothing must be in [0, 1), got {self.label_smoothing}")
    if self.final_augment not in FINAL_AUGMENT:
      raise UserError(f"unknown --final_augment '{self.final_augment}'; choose one "
                      f"of: {', '.join(FINAL_AUGMENT)}")
    if self.final_warmup_epochs >= self.final_epochs:
      raise UserError(f"--final_warmup_epochs ({self.final_warmup_epochs:g}) must be "
                      f"below --final_epochs ({self.final_epochs})")
    if self.genotype:
      known_genotypes.check_name(self.genotype)
    if self.path_sampling not in PATH_SAMPLING:
      raise UserError(f"unknown path sampling '{self.path_sampling}'; choose one "
                      f"of: {', '.join(PATH_SAMPLING)}")
    if self.max_samples < self.min_samples:
      raise UserError(f"--max_samples ({self.max_samples}) must be >= --min_samples "
                      f"({self.min_samples})")
    if self.method == "dnas" and self.dnas_rounds < 1:
      raise UserError("--method=dnas needs --dnas_rounds >= 1")
    if self.gpu_memory_limit_mb and self.gpu_memory_limit_mb <= self.memory_headroom_mb:
      raise UserError(f"--gpu_memory_limit_mb ({self.gpu_memory_limit_mb:g}) must "
                      f"exceed --memory_headroom_mb ({self.memory_headroom_mb:g})")
    return self

  @property
  def budget_mb(self) -> float:
    """Per-replica memory a DNAS step may use."""
    if self.gpu_memory_limit_mb:
      return self.gpu_memory_limit_mb - self.memory_headroom_mb
    return self.memory_budget_mb

  def search_fields(self) -> dict:
    """The fields that define a search: a model dir holding a run with others
    must not be silently reused."""
    skip = {"overwrite", "model_dir", "data_dir", "manual_dir", "final_save_steps",
            "latency_cache_dir"}
    return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "RunConfig":
    d = json.loads(text)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
