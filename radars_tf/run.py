"""radars_tf: search an architecture, retrain it, evaluate it once, export it.

  python -m radars_tf.run                                  # RADARS on Fashion-MNIST
  python -m radars_tf.run --flagfile=flags/cifar10.cfg --model_dir=runs/c10
  python -m radars_tf.run --helpfull                       # every flag

Flags live here only; they become one RunConfig, written to the model dir.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dataclasses  # pylint: disable=g-import-not-at-top,wrong-import-position
import typing

from absl import app, flags, logging

from radars_tf import known_genotypes
from radars_tf.config import METHODS, STRATEGIES, RunConfig
from radars_tf.errors import UserError

HELP = {
    "method": f"Search method: {', '.join(METHODS)}.",
    "dataset": "TFDS dataset: cifar10, cifar100, fashion_mnist, mnist, "
               "imagenet_resized/32x32, imagenet2012 (manual download).",
    "space": "Search space: a preset (large, xlarge, darts, tiny) or a JSON file.",
    "data_dir": "TFDS data dir (default: TFDS's own, ~/tensorflow_datasets).",
    "manual_dir": "Directory of manually downloaded files (imagenet2012; for "
                  "fashion_mnist defaults to Debian's /usr/share/datasets/fashion-mnist).",
    "model_dir": "Where the run writes config, checkpoints, TensorBoard logs, exports.",
    "seed": "Seed of every random choice (data order, init, sampling).",
    "deterministic": "Also enable TF op determinism (slower, reproducible).",
    "val_fraction": "Fraction of the train split held out for alphas and rewards.",
    "max_train_examples": "Use at most this many train examples (0: all).",
    "max_test_examples": "Evaluate on at most this many test examples (0: all).",
    "batch_size": "Global batch size (divided among the replicas).",
    "memory_budget_mb": "Per-replica memory a DNAS step may use (CPU runs).",
    "gpu_memory_limit_mb": "Cap each GPU at this many MB (set before any op runs); "
                           "the budget becomes this minus --memory_headroom_mb.",
    "memory_headroom_mb": "Part of --gpu_memory_limit_mb kept for the framework.",
    "dnas_rounds": "Maximum number of DNAS rounds.",
    "dnas_steps_per_round": "Bilevel steps (weights + alphas) per DNAS round.",
    "w_lr": "Learning rate of the supernet weights (cosine decayed).",
    "alpha_lr": "Adam learning rate of the architecture variables.",
    "gumbel": "Gumbel-softmax mixing (FBNet) instead of softmax (DARTS); both use "
              "a temperature decayed from 5 to 0.5 over the DNAS rounds.",
    "cost_weight": "Weight of the normalized MAC cost in alpha loss and reward.",
    "target_mflops": "FLOPs target of the found model (forward, per example, in "
                     "millions): rewards and the DNAS alpha loss lose --cost_beta "
                     "times |FLOPs / target - 1| (TuNAS' absolute reward); 0: none.",
    "cost_beta": "Weight of the FLOPs- and latency-target terms (TuNAS uses 0.07).",
    "target_ms": "Train-step latency target of the found model (ms per step at "
                 "--batch_size per replica on this device), predicted by a latency "
                 "table measured here op by op (a few minutes, once; cached): the "
                 "same absolute term as --target_mflops; 0: none.",
    "latency_cache_dir": "Where measured latency tables are kept, one per device, "
                         "TensorFlow build, space and batch.",
    "converge_threshold": "A layer has converged when its top alpha prob reaches this.",
    "rl_phases_max": "Give up when the subspace does not fit after this many RL phases.",
    "rl_iterations_per_phase": "Agent updates per RL phase.",
    "episodes_per_iteration": "radars, with --rewards_per_candidate=0 only: "
                              "architectures sampled (and scored with the shared "
                              "weights) per agent update.",
    "rewards_per_candidate": "radars: size each RL phase so that every alive "
                             "candidate of its widest layer gets this many rewards "
                             "on average (more episodes on a large subspace, fewer "
                             "later); 0: --episodes_per_iteration per update.",
    "warmup_steps": "Shared-weight steps on random paths before the first RL phase.",
    "single_path_compiled": "Run each op of the shared-weight steps as its own "
                            "tf.function: faster per step on a fixed path, but every "
                            "op pays a trace on first use and every update one after "
                            "each pruning (slower in the 13-min main job on a CPU).",
    "path_sampling": "Shared-weight paths: uniform (every layer random, SPOS), "
                     "fair (every layer from a shuffled deck of its candidates: "
                     "equal updates per candidate, FairNAS) or local (a reference path with --vary_layers layers changed, "
                     "every candidate in turn; episodes scored the same way).",
    "vary_layers": "local path sampling: layers changed from the reference.",
    "path_train_steps": "Shared-weight steps on sampled paths before each update.",
    "score_batches": "Validation batches that score a sampled architecture (the "
                     "same batches for every architecture of an RL phase).",
    "agent_lr": "Adam learning rate of the policy.",
    "entropy_weight": "Entropy regularization of the policy.",
    "min_samples": "RL pruning: no candidate goes on fewer rewards than this.",
    "prune_confidence": "RL pruning: a candidate goes when its mean reward lies this "
                        "many standard errors below its layer's best.",
    "max_samples": "RL pruning: a candidate this many rewards cannot separate from "
                   "its layer's best may go too (furthest below it first, "
                   "then memory-hungry).",
    "alpha_prune_ratio": "Between DNAS rounds a candidate goes when its alpha "
                         "probability is below this times its layer's top one.",
    "child_samples": "rl/random: children sampled and trained from scratch.",
    "child_train_steps": "rl/random: training steps of each child.",
    "children_per_update": "rl: children the agent samples (and trains) per policy "
                           "update.",
    "max_search_seconds": "Search time budget: after this many seconds the search "
                          "stops at the next step and answers from what it has "
                          "(the first unit always completes); 0 for none.",
    "warmup_time_share": "radars with --max_search_seconds: the warm-up ends by "
                         "this share of the time budget.",
    "rl_time_share": "radars with --max_search_seconds: the RL phases end this share "
                     "of the budget after the warm-up's, then pruning fits the memory "
                     "budget on the evidence so far (ranked; no confidence needed) "
                     "and DNAS gets the rest.",
    "final_epochs": "Epochs of final training on the full train split.",
    "final_lr": "Learning rate of final training (cosine decayed).",
    "final_save_steps": "Final training checkpoints every this many steps (and at "
                        "every epoch's end); a restarted run continues from the "
                        "last. 0: at epoch ends only.",
    "final_warmup_epochs": "Final training: linear learning-rate warm-up over this "
                           "many epochs before the cosine decay.",
    "label_smoothing": "Final training: label smoothing of the cross-entropy.",
    "final_augment": "Final training augmentation: auto (the dataset's: crop+flip "
                     "for CIFAR/ImageNet, none for (Fashion-)MNIST), crop_flip "
                     "(random crop padded by 4, horizontal flip) or none.",
    "strategy": f"tf.distribute strategy: {', '.join(STRATEGIES)}.",
    "tpu": "TPU name or grpc:// address for --strategy=tpu.",
    "genotype": "Skip the search and retrain this genotype exactly like a found one: "
                f"a known one ({', '.join(known_genotypes.KNOWN)}) or a "
                "genotype.json a run wrote.",
    "overwrite": "Replace a finished or different run in --model_dir (the old one is "
                 "moved aside to <model_dir>.old-<time>, never deleted).",
}


def _define_flags() -> None:
  """One flag per RunConfig field, with its default and HELP line."""
  hints = typing.get_type_hints(RunConfig)
  for field in dataclasses.fields(RunConfig):
    kind = hints[field.name]
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
              float: flags.DEFINE_float}.get(kind, flags.DEFINE_string)
    define(field.name, field.default, HELP[field.name])


_define_flags()
flags.DEFINE_bool("quiet", False, "No progress lines, only the final table.")
FLAGS = flags.FLAGS
HELP_FLAGS = ("-h", "-?", "--help", "--helpshort", "--helpfull", "--helpxml")


def config_from_flags(methods=METHODS) -> RunConfig:
  cfg = RunConfig(**{f.name: FLAGS[f.name].value
                     for f in dataclasses.fields(RunConfig)}).validate(methods)
  if FLAGS["episodes_per_iteration"].present and cfg.rewards_per_candidate:
    raise UserError("--episodes_per_iteration applies only with "
                    "--rewards_per_candidate=0 (RL phases are sized at "
                    f"{cfg.rewards_per_candidate:g} rewards per candidate)")
  return cfg


def _parse(argv):
  """absl parsing, with a bad flag reported in one line (exit 2) and help that
  exits 0 (absl's help flags exit 1)."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except SystemExit:
    if any(a.split("=")[0] in HELP_FLAGS for a in argv[1:]):
      sys.exit(0)
    raise


def main(argv, methods=METHODS, make_search=None):
  """`methods` and `make_search` let a benchmark run its own search method through
  the same pipeline (tools/keras_tuner_search.py)."""
  if len(argv) > 1:
    print(f"error: unexpected arguments {' '.join(argv[1:])}", file=sys.stderr)
    return 2
  logging.set_verbosity(logging.ERROR)
  try:
    cfg = config_from_flags(methods)   # a bad value costs no TensorFlow import
    from radars_tf import pipeline  # pylint: disable=import-outside-toplevel
    return pipeline.run(cfg, quiet=FLAGS.quiet, make_search=make_search)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2


def entry(main_fn=main) -> None:
  """Runs `main_fn` and leaves without TF's noisy interpreter teardown."""
  try:
    app.run(main_fn, flags_parser=_parse)
    code = 0
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


if __name__ == "__main__":
  entry()
