"""One run end to end: check the model dir, set up devices and strategy, search,
retrain the genotype from scratch, evaluate once on test, export, report."""
import dataclasses
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

from radars_tf import model_dir_lock, provenance
from radars_tf.checkpointing import (SEARCH_CHECKPOINTS, STATE_FILE, SearchCheckpoints,
                                     write_json_atomic)
from radars_tf.config import FINAL_AUGMENT, RunConfig
from radars_tf.errors import UserError

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
FINAL_CHECKPOINTS = "final_checkpoints"
LOGS = "logs"


def _jsonable(x):
  if isinstance(x, (np.floating, np.integer)):
    return x.item()
  if isinstance(x, np.ndarray):
    return x.tolist()
  if dataclasses.is_dataclass(x):
    return dataclasses.asdict(x)
  return str(x)


def _op_error_line(e) -> str:
  """A TensorFlow error's message in one line, without the function node prefix."""
  lines = [l for l in re.sub(r"^\{\{[^}]*\}\}\s*", "", e.message.strip()).splitlines()
           if l.strip()]
  return (lines[0].strip() if lines else "no message")[:240]


def _saved_anything(model_dir: str) -> bool:
  """Whether a run in `model_dir` saved what a resume or a reader would use."""
  return any(os.path.exists(os.path.join(model_dir, name)) for name in (
      RESULTS_FILE, STATE_FILE, SEARCH_CHECKPOINTS, FINAL_CHECKPOINTS))


def _move_aside(path: str) -> str:
  """Moves `path` to `<path>.old-<time>` (never deleted) and returns that name."""
  aside = f"{path.rstrip('/')}.old-{time.strftime('%Y%m%d-%H%M%S')}"
  shutil.move(path, aside)
  return aside


def _move_aside_logs(model_dir: str, diff) -> None:
  """The logs of a command that saved nothing go to `logs.old-<time>` (kept, so
  that TensorBoard shows that attempt apart from the run that follows)."""
  logs = os.path.join(model_dir, LOGS)
  note = f"; its logs moved to {_move_aside(logs)}" if os.path.exists(logs) else ""
  print(f"--model_dir {model_dir}: an earlier command with other flags "
        f"({', '.join(diff[:4])}) saved nothing; this run replaces its config{note}",
        file=sys.stderr)


def prepare_model_dir(cfg: RunConfig, chief: bool = True) -> None:
  """Refuses to mix runs: a model dir holding a run with other flags, or a finished
  run, is kept unless --overwrite, which moves it aside (never deletes it). Every
  worker of a cluster checks; only the chief moves the dir aside."""
  d = cfg.model_dir
  config_path = os.path.join(d, CONFIG_FILE)
  if os.path.exists(config_path):
    try:
      with open(config_path) as f:
        old = RunConfig.from_json(f.read())
    except (ValueError, TypeError) as e:
      raise UserError(f"{config_path} is not a radars_tf config ({e}); "
                      "use another --model_dir") from e
    diff = [k for k, v in cfg.search_fields().items() if old.search_fields().get(k) != v]
    results_path = os.path.join(d, RESULTS_FILE)
    finished = os.path.exists(results_path)
    if finished and not cfg.overwrite:
      try:
        with open(results_path) as f:
          json.load(f)
      except (OSError, ValueError) as e:
        raise UserError(f"{results_path} is damaged ({e}); its run's exports are "
                        "beside it. Pass --overwrite to move the dir aside and run "
                        "again, or choose another --model_dir") from e
    if diff and not cfg.overwrite and not _saved_anything(d):
      # An earlier command refused before its first save (a bad budget, a
      # dataset offline): its config is not a run; this command takes the dir.
      model_dir_lock.check_free(d)
      if chief:
        _move_aside_logs(d, diff)
      diff = []
    if (diff or finished) and not cfg.overwrite:
      why = (f"a run with different flags ({', '.join(diff[:4])})" if diff
             else "a finished run")
      raise UserError(f"--model_dir {d} holds {why}; pass --overwrite to move it "
                      "aside, or choose another --model_dir")
    if cfg.overwrite and chief:
      model_dir_lock.check_free(d)     # never move a live run's dir aside
      print(f"moved the earlier run in {d} to {_move_aside(d)}", file=sys.stderr)
  try:
    os.makedirs(d, exist_ok=True)
    probe = tempfile.NamedTemporaryFile(dir=d, delete=True)
    probe.close()
  except OSError as e:
    raise UserError(f"cannot write to --model_dir {d}: {e.strerror}") from e


def summary_table(results: dict) -> str:
  rows = [
      ("method", results["method"]), ("dataset", results["dataset"]),
      ("space", f"{results['space']} (log10 size {results['space_log10_size']:.1f})"),
      ("genotype", ", ".join(results["genotype"]["ops"])),
      ("test accuracy", f"{100 * results['test_accuracy']:.2f}%"),
      ("params", f"{results['params']:,}"),
      ("FLOPs", f"{results['flops'] / 1e6:.1f} M" + (
          f" (target {results['target_mflops']:g} M: "
          f"{100 * (results['flops'] / 1e6 / results['target_mflops'] - 1):+.0f}%)"
          if results["target_mflops"] else "")),
  ]
  if results.get("measured_step_ms") is not None:
    rows.append(("train step", (
        f"{results['measured_step_ms']:.0f} ms measured, "
        f"{results['predicted_step_ms']:.0f} ms predicted" + (
            f" (target {results['target_ms']:g} ms: "
            f"{100 * (results['measured_step_ms'] / results['target_ms'] - 1):+.0f}%)"
            if results["target_ms"] else ""))))
  rows += [
      ("search time", f"{results['search_seconds']:.0f} s"),
      ("final training", f"{results['final_train_seconds']:.0f} s "
                         f"({results['final_epochs']} epochs)"),
  ]
  if not results["method"].startswith("genotype:"):     # a search ran
    rows += [
        ("memory budget", f"{results['budget_mb']:.0f} MB per replica"),
        ("DNAS estimate", f"full space {results['full_space_estimate_mb']:.0f} MB, "
                          f"final subspace {results['final_estimate_mb']:.0f} MB"),
        ("measured peak", f"{results['measured_peak_mb']:.0f} MB per replica"),
        ("pruned", f"{len(results['pruning_history'])} candidates")]
  rows.append(("model dir", results["model_dir"]))
  width = max(len(k) for k, _ in rows)
  line = "-" * (width + 3 + max(len(str(v)) for _, v in rows))
  return "\n".join([line] + [f"{k:<{width}} | {v}" for k, v in rows] + [line])


def run(cfg: RunConfig, quiet: bool = False, make_search=None) -> int:
  """`make_search(ctx)` builds the search (default: `search_methods.make_search`).

  Workers of a cluster share --model_dir: the chief writes it, the others write
  their artefacts to a temporary dir and resume from the chief's checkpoints, so
  that every worker restarts at the same unit."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from radars_tf import data, distribution, final_training, latency_table  # pylint: disable=import-outside-toplevel
  prepare_model_dir(cfg, distribution.will_be_chief(cfg.strategy))
  from radars_tf import search_loop, search_methods, search_space  # pylint: disable=import-outside-toplevel
  from radars_tf.step_reporter import (  # pylint: disable=import-outside-toplevel
      Interrupted, SearchFault)
  from radars_tf.summaries import Progress, Summaries  # pylint: disable=import-outside-toplevel

  distribution.configure_devices(cfg.gpu_memory_limit_mb)
  tf.keras.utils.set_random_seed(cfg.seed)
  if cfg.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = distribution.get_strategy(cfg.strategy, cfg.tpu)
  per_replica = distribution.check_batch(cfg.batch_size, strategy)
  space = search_space.load(cfg.space)
  chief = distribution.is_chief(strategy)
  out_dir = cfg.model_dir if chief else tempfile.mkdtemp(prefix="radars_worker_")
  model_dir_lock.acquire(out_dir)
  if not chief:
    print(f"this worker writes its artefacts to {out_dir}", flush=True)
  write_json_atomic(os.path.join(out_dir, CONFIG_FILE), json.loads(cfg.to_json()))
  source = data.DataSource(cfg.dataset, cfg.data_dir, cfg.manual_dir,
                           cfg.val_fraction, cfg.max_train_examples,
                           cfg.max_test_examples, cfg.seed)
  summaries = Summaries(os.path.join(out_dir, LOGS, "search"))
  summaries.hparams(cfg.search_fields(), ["final/test_accuracy"])
  progress = Progress(quiet)
  method = f"genotype:{os.path.basename(cfg.genotype)}" if cfg.genotype else cfg.method
  progress.note(f"{method} on {cfg.dataset}, space {space.name} "
                f"(log10 size {search_space.log10_size(space):.1f}), "
                f"{strategy.num_replicas_in_sync} replica(s), budget "
                f"{cfg.budget_mb:.0f} MB per replica")
  stop = []

  def request_stop(signum, frame):  # pylint: disable=unused-argument
    stop.append(signum)
  previous = {sig: signal.signal(sig, request_stop)
              for sig in (signal.SIGTERM, signal.SIGINT)}
  ctx = search_loop.SearchContext(cfg, space, source, strategy, summaries, progress,
                                  SearchCheckpoints(out_dir, cfg.model_dir),
                                  lambda: bool(stop))
  try:
    search = (make_search or search_methods.make_search)(ctx)
    outcome = search.run()
    progress.note(f"search done in {outcome.search_seconds:.0f} s: "
                  f"{', '.join(outcome.genotype.ops)}")
    summaries.text(0, "genotype", "`" + "`, `".join(outcome.genotype.ops) + "`")
    tf.keras.utils.set_random_seed(cfg.seed + 1)
    progress.phase(f"final training: {cfg.final_epochs} epochs on "
                   f"{source.splits.num_train} examples", cfg.final_epochs)
    model, final = final_training.train_and_evaluate(
        outcome.genotype, space, source, strategy, cfg.batch_size, cfg.final_epochs,
        cfg.final_lr, os.path.join(out_dir, LOGS, "final"),
        verbose=0 if quiet else progress.verbose,
        checkpoint_dir=os.path.join(out_dir, FINAL_CHECKPOINTS),
        restore_dir=os.path.join(cfg.model_dir, FINAL_CHECKPOINTS),
        save_steps=cfg.final_save_steps, stop_requested=lambda: bool(stop),
        warmup_epochs=cfg.final_warmup_epochs, label_smoothing=cfg.label_smoothing,
        augment=FINAL_AUGMENT[cfg.final_augment])
  except tf.errors.OpError as e:
    if cfg.strategy == "multi_worker" and isinstance(
        e, (tf.errors.UnavailableError, tf.errors.CancelledError)):
      raise UserError(f"a worker of the cluster failed or was preempted "
                      f"({str(e).strip().splitlines()[-1][:160]}); restart every "
                      f"worker with the same command: they resume from the "
                      f"chief's last checkpoint in {cfg.model_dir}") from e
    raise SearchFault(f"TensorFlow failed: {type(e).__name__}: {_op_error_line(e)}; "
                      f"what finished is saved in {out_dir}: run the same command "
                      "to resume") from e
  except Interrupted:
    # The state saved after the last finished unit stands: a resumed run redoes
    # the interrupted unit from there, as after a SIGKILL.
    print(f"interrupted by signal {stop[0]}: the search state after unit "
          f"{search.state.units} is saved in {out_dir}; run the same command to "
          "resume", file=sys.stderr)
    return 128 + stop[0]
  except final_training.FinalInterrupted as e:
    print(f"interrupted by signal {stop[0]}: {e}, saved in "
          f"{os.path.join(out_dir, FINAL_CHECKPOINTS)}; run the same command to "
          "resume", file=sys.stderr)
    return 128 + stop[0]
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  step_ms = {}
  if search.objective.latency is not None:   # the latency target's outcome, measured
    step_ms = {"predicted_step_ms": search.objective.latency.predict_ms(
                   outcome.genotype.choices(space)),
               "measured_step_ms": latency_table.measure_network_ms(
                   space, outcome.genotype.ops, source.input_shape,
                   source.spec.num_classes, per_replica)}
  summaries.scalars(0, {"final/test_accuracy": final.test_accuracy})
  summaries.flush()
  exports = final_training.export(model, out_dir)
  with open(os.path.join(out_dir, "genotype.json"), "w") as f:
    f.write(outcome.genotype.to_json())
  results = {
      "method": method, "dataset": cfg.dataset, "space": space.name,
      "space_log10_size": search_space.log10_size(space),
      "genotype": json.loads(outcome.genotype.to_json()),
      "test_accuracy": final.test_accuracy, "test_loss": final.test_loss,
      "test_examples": source.splits.num_test,
      "params": final.params, "macs": final.macs, "flops": 2 * final.macs,
      "target_mflops": cfg.target_mflops,
      "target_ms": cfg.target_ms, **step_ms,
      "search_seconds": outcome.search_seconds,
      "final_train_seconds": final.train_seconds, "final_epochs": final.epochs,
      "final_train_accuracy": final.train_accuracy,
      "final_recipe": {"epochs": cfg.final_epochs, "lr": cfg.final_lr,
                       "schedule": "linear warm-up, cosine decay",
                       "warmup_epochs": cfg.final_warmup_epochs,
                       "label_smoothing": cfg.label_smoothing,
                       "augment": (source.spec.augment
                                   if FINAL_AUGMENT[cfg.final_augment] is None
                                   else FINAL_AUGMENT[cfg.final_augment])},
      "budget_mb": cfg.budget_mb,
      "measured_peak_mb": outcome.peak_step_bytes / (1 << 20),
      "final_estimate_mb": outcome.estimate_mb,
      "full_space_estimate_mb": outcome.full_estimate_mb,
      "final_subspace": outcome.subspace.to_json(),
      "pruning_history": [dataclasses.asdict(d) for d in outcome.decisions],
      "events": outcome.events, "best_curve": outcome.best_curve,
      "replicas": strategy.num_replicas_in_sync, "per_replica_batch": per_replica,
      "seed": cfg.seed, "flags": dataclasses.asdict(cfg),
      "versions": provenance.versions(),
      "exports": {k: os.path.relpath(v, out_dir) for k, v in exports.items()},
      "model_dir": cfg.model_dir,
  }
  write_json_atomic(os.path.join(out_dir, RESULTS_FILE), results, default=_jsonable)
  print(summary_table(results), flush=True)
  return 0
