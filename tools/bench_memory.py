"""Memory of DNAS and of RADARS against candidates per layer, batch and budget.

DNAS rows: one step of the whole supernet (the first k candidates of every layer),
its allocator peak measured whole and by the parts the memory model names (what is
held, the weight pass, the alpha pass, the first step; `memory_probe`), beside the
estimate of each. RADARS rows: a short real search (Fashion-MNIST) of the same
space under each budget; per DNAS round, the estimate the agent pruned against and
the measured peak of the round (its first, tracing step included; the input
pipeline allocates outside the device allocator, see memory_model).

Op rows (`--per_op`): for every op of the space, a step of the supernet whose
layers all hold that one op (layers without it hold their first candidate),
measured --repeats times: each part against its estimate, and how much the same
step varies from run to run (the executor's order of independent ops).

Every row runs in a fresh child process: an allocator that already held a larger
step's tensors measures the same step 5-12% higher (its free chunks are no longer
the sizes this step asks for), and a user's search runs in a process of its own.
Every finished row is kept in --out/rows.json and skipped on the next run, so the
table can be built over several sittings; the tables are printed from that file.

  python tools/bench_memory.py --space=xlarge --candidates=4,8,16,26,32,36 \
      --batch_sizes=32,64 --budgets_mb=128,256,512 --out=runs/bench_memory
  python tools/bench_memory.py --space=xlarge --per_op --batch_sizes=64 \
      --out=runs/bench_memory_ops
"""
import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app, flags, logging

from radars_tf import data, memory_model, memory_probe, search_loop, search_methods
from radars_tf import search_space as ss
from radars_tf.checkpointing import write_json_atomic
from radars_tf.config import RunConfig
from radars_tf.errors import UserError
from radars_tf.summaries import Progress, Summaries
import kept_results  # tools/
# pylint: enable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string("space", "xlarge", "Search space preset or JSON file.")
flags.DEFINE_list("candidates", ["4", "8", "16", "26", "32", "36"],
                  "Candidates per layer (the first k of every layer).")
flags.DEFINE_list("batch_sizes", ["32", "64"], "Per-replica batch sizes.")
flags.DEFINE_list("budgets_mb", ["128", "256", "512"], "RADARS memory budgets.")
flags.DEFINE_bool("dnas", True, "Rows of one step of the whole supernet.")
flags.DEFINE_bool("radars", True, "Rows of a short RADARS search per budget.")
flags.DEFINE_integer("steps", 2, "Timed DNAS steps per size.")
flags.DEFINE_bool("per_op", False, "Op rows instead: one op in every layer.")
flags.DEFINE_integer("repeats", 3, "Measurements of each op row.")
flags.DEFINE_string("out", "runs/bench_memory", "Keeps every finished row.")
flags.DEFINE_string("one_row", None, "Internal: measure only this row (its key) "
                    "and write it as JSON to --row_file.")
flags.DEFINE_string("row_file", None, "Internal: where --one_row writes its row.")
FLAGS = flags.FLAGS

MB = 2 ** 20
SHAPE = (28, 28, 1)
# A short search: enough RL phases to prune to the budget (a candidate may be
# pruned by memory once sampled once: this measures memory, not search quality),
# two DNAS rounds.
RADARS = dict(method="radars", dataset="fashion_mnist", max_train_examples=2048,
              max_test_examples=256, warmup_steps=10, rl_iterations_per_phase=1,
              episodes_per_iteration=32, rewards_per_candidate=0,
              path_train_steps=2, min_samples=1,
              max_samples=1, score_batches=1, dnas_rounds=2, dnas_steps_per_round=3,
              rl_phases_max=40, target_mflops=0.0)


def first_k(space: ss.SearchSpace, k: int) -> ss.SearchSpace:
  """`space` with only the first k candidates of every layer."""
  return dataclasses.replace(
      space, name=f"{space.name}-first{k}", ops=space.ops[:k],
      stages=tuple(dataclasses.replace(s, ops=s.ops[:k] if s.ops else None)
                   for s in space.stages))


def dnas_row(space: ss.SearchSpace, batch: int) -> dict:
  full = ss.Subspace.full(space)
  est = memory_model.estimate(space, full, SHAPE, 10, batch)
  got = memory_probe.measure_dnas_step(space, full, SHAPE, 10, batch, FLAGS.steps)
  # A probe: a fresh process's step, without a search's context.
  return dict(log10_size=full.log10_size(), est_total=est.probe_total,
              est_held=est.held, est_weight_pass=est.weight_pass,
              est_alpha_pass=est.alpha_activations, peak=got.peak_bytes,
              first_step=got.first_step_bytes, held=got.held_bytes,
              weight_pass=got.weight_pass_bytes, alpha_pass=got.alpha_pass_bytes,
              step_seconds=got.step_seconds)


def op_row(space: ss.SearchSpace, op: str, batch: int) -> dict:
  sub = ss.Subspace(tuple((c.index(op) if op in c else 0,)
                          for c in space.candidates()))
  est = memory_model.estimate(space, sub, SHAPE, 10, batch)
  got = [memory_probe.measure_dnas_step(space, sub, SHAPE, 10, batch, FLAGS.steps,
                                        seed=r) for r in range(FLAGS.repeats)]
  return dict(est_total=est.probe_total, est_weight_pass=est.weight_pass,
              est_alpha_pass=est.alpha_activations,
              est_chunking=est.chunking,
              peaks=[max(g.peak_bytes, g.first_step_bytes) for g in got],
              weight_passes=[g.weight_pass_bytes for g in got],
              alpha_passes=[g.alpha_pass_bytes for g in got],
              weight_pass_tensors=[g.weight_pass_tensor_bytes for g in got],
              alpha_pass_tensors=[g.alpha_pass_tensor_bytes for g in got])


def radars_row(space: ss.SearchSpace, batch: int, budget_mb: float) -> dict:
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  source = data.DataSource("fashion_mnist", max_train_examples=2048,
                           max_test_examples=256)
  cfg = RunConfig(**RADARS, space=space.name, batch_size=batch,
                  memory_budget_mb=budget_mb).validate()
  tf.keras.backend.clear_session()
  ctx = search_loop.SearchContext(
      cfg, space, source, tf.distribute.get_strategy(),
      Summaries(tempfile.mkdtemp(prefix="bench_memory_")), Progress(quiet=True))
  start = time.time()
  try:
    out = search_methods.make_search(ctx).run()
  except UserError as e:        # e.g. the budget is below a one-op supernet
    return dict(refused=str(e).splitlines()[0])
  rounds = [e for e in out.events if e["kind"] == "dnas_round"]
  return dict(rl_phases=sum(e["kind"] == "rl_phase" for e in out.events),
              # the subspace too: an over-budget round can be probed again alone
              rounds=[dict(estimate_mb=e["estimate_mb"], peak_mb=e["peak_mb"],
                           alive=e["alive"]) for e in rounds],
              # steps that measured over the budget, stopped and pruned again
              caught=[dict(peak_mb=e["peak_mb"], alive=e["alive"],
                           answer=e["answer"])
                      for e in out.events
                      if e["kind"] == "out_of_memory" and "peak_mb" in e],
              seconds=time.time() - start)


def protocol(space: ss.SearchSpace) -> dict:
  """What a kept row depends on: the space, the search config, the probe, and the
  code of the memory model (a changed estimate makes old rows stale)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  root = os.path.dirname(os.path.abspath(memory_model.__file__))
  code = hashlib.sha256()
  for name in ("memory_model.py", "ops.py", "dnas_trainer.py", "memory_probe.py"):
    with open(os.path.join(root, name), "rb") as f:
      code.update(f.read())
  return {"space": space.to_dict(), "shape": list(SHAPE), "steps": FLAGS.steps,
          **({"repeats": FLAGS.repeats} if FLAGS.per_op else {"radars": RADARS}),
          "process": "fresh per row",
          "model_code": code.hexdigest()[:16], "tf": tf.__version__}


def print_op_table(rows: dict) -> None:
  print("\n| op | batch | step: estimate MB / measured MB, max of repeats (ratio) | "
        "step spread over repeats | weight pass: tensors / term, allocated / term | "
        "alpha pass: tensors / term, allocated / term | chunking MB: "
        "weight pass allocated - tensors / term |")
  print("|---|---|---|---|---|---|---|")
  for key, r in rows.items():
    if key.startswith("op "):
      _, op, b = key.split()
      print(f"| {op} | {b} | {r['est_total'] / MB:.0f} / {max(r['peaks']) / MB:.0f} "
            f"({max(r['peaks']) / r['est_total']:.2f}) | "
            f"{(max(r['peaks']) - min(r['peaks'])) / max(r['peaks']):.1%} | "
            f"{max(r['weight_pass_tensors']) / r['est_weight_pass']:.2f}, "
            f"{max(r['weight_passes']) / r['est_weight_pass']:.2f} | "
            f"{max(r['alpha_pass_tensors']) / r['est_alpha_pass']:.2f}, "
            f"{max(r['alpha_passes']) / r['est_alpha_pass']:.2f} | "
            f"{max(w - t for w, t in zip(r['weight_passes'], r['weight_pass_tensors'])) / MB:.1f}"
            f" / {r['est_chunking'] / MB:.1f} |")


def print_tables(rows: dict) -> None:
  print("\n| candidates/layer | batch | log10 size | held MB est / meas | weight pass "
        "MB est / meas | alpha pass MB est / meas | step MB est / meas | meas / est "
        "| first step MB | step s |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  for key, r in rows.items():
    if not key.startswith("dnas"):
      continue
    _, k, b = key.split()
    print(f"| {k} | {b} | {r['log10_size']:.1f} | {r['est_held'] / MB:.1f} / "
          f"{r['held'] / MB:.1f} | {r['est_weight_pass'] / MB:.0f} / "
          f"{r['weight_pass'] / MB:.0f} | {r['est_alpha_pass'] / MB:.0f} / "
          f"{r['alpha_pass'] / MB:.0f} | {r['est_total'] / MB:.0f} / "
          f"{r['peak'] / MB:.0f} | {r['peak'] / r['est_total']:.2f} | "
          f"{r['first_step'] / MB:.0f} | {r['step_seconds']:.2f} |")
  print("\n| candidates/layer | batch | budget MB | RL phases | per DNAS round: "
        "estimate MB / measured peak MB (ratio) | within budget | steps over budget, "
        "caught: MB | search s |")
  print("|---|---|---|---|---|---|---|---|")
  ratios, violations, caught, n = [], 0, 0, 0
  for key, r in rows.items():
    if not key.startswith("radars"):
      continue
    _, k, b, budget = key.split()
    if "refused" in r:
      print(f"| {k} | {b} | {budget} | - | refused: {r['refused']} | - | - | - |")
      continue
    n += 1
    cells = []
    for rd in r["rounds"]:
      ratio = rd["peak_mb"] / rd["estimate_mb"]
      ratios.append(ratio)
      cells.append(f"{rd['estimate_mb']:.0f} / {rd['peak_mb']:.0f} ({ratio:.2f})")
    over = any(rd["peak_mb"] > float(budget) for rd in r["rounds"])
    violations += over
    stopped = "; ".join(f"{c['peak_mb']:.0f}" + (f" ({c['answer']})" if "answer" in c
                                                  else "")
                        for c in r.get("caught", []))
    caught += bool(stopped)
    print(f"| {k} | {b} | {budget} | {r['rl_phases']} | {'; '.join(cells)} | "
          f"{'**no**' if over else 'yes'} | "
          f"{stopped or '-'} | "
          f"{r['seconds']:.0f} |")
  if ratios:
    print(f"\nRADARS: {violations} of {n} searches over budget in a round; {caught} "
          f"stopped a step over budget and pruned again; measured / estimate "
          f"per DNAS round {min(ratios):.2f}-{max(ratios):.2f} ({len(ratios)} rounds)")


def row_in_child(key: str) -> dict:
  """The row `key`, measured by this script in a fresh process."""
  with tempfile.TemporaryDirectory(prefix="bench_memory_row_") as tmp:
    row_file = os.path.join(tmp, "row.json")
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *sys.argv[1:],
                           f"--one_row={key}", f"--row_file={row_file}"],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
      raise SystemExit(f"error: row {key!r} failed (exit {proc.returncode}): "
                       f"{proc.stderr.strip().splitlines()[-1:]}")
    with open(row_file) as f:
      return json.load(f)


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  logging.set_verbosity(logging.ERROR)
  tf.get_logger().setLevel("ERROR")
  space = ss.load(FLAGS.space)
  os.makedirs(FLAGS.out, exist_ok=True)
  path = os.path.join(FLAGS.out, "rows.json")
  expected = protocol(space)
  rows = kept_results.load(path, expected).get("rows", {})
  print(f"space {space.name}, {space.num_layers} layers, input {SHAPE}, "
        f"{platform.machine()} {os.cpu_count()} cores, device "
        f"{memory_probe.device_name()}, TF {tf.__version__}; rows in {path}")
  jobs = []
  if FLAGS.per_op:
    jobs = [(f"op {op} {b}", lambda op=op, b=b: op_row(space, op, b))
            for b in (int(x) for x in FLAGS.batch_sizes)
            for op in dict.fromkeys(o for c in space.candidates() for o in c)]
  for k in (() if FLAGS.per_op else (int(c) for c in FLAGS.candidates)):
    sub_space = first_k(space, k)
    for b in (int(x) for x in FLAGS.batch_sizes):
      if FLAGS.dnas:
        jobs.append((f"dnas {k} {b}", lambda s=sub_space, b=b: dnas_row(s, b)))
      if FLAGS.radars:
        jobs += [(f"radars {k} {b} {float(m):g}",
                  lambda s=sub_space, b=b, m=m: radars_row(s, b, float(m)))
                 for m in FLAGS.budgets_mb]
  if FLAGS.one_row:
    write_json_atomic(FLAGS.row_file, dict(jobs)[FLAGS.one_row]())
    return
  for key, _ in jobs:
    if key in rows:
      continue
    start = time.time()
    rows[key] = row_in_child(key)
    write_json_atomic(path, {"protocol": expected, "rows": rows})
    print(f"{key}: done in {time.time() - start:.0f} s", flush=True)
  if FLAGS.per_op:
    print_op_table(rows)
    return
  print_tables(rows)
  import figures  # pylint: disable=import-outside-toplevel  (tools/figures.py)
  print(figures.drawn(lambda path: figures.memory(
      rows, path, f"space {space.name}, input {SHAPE}, device "
      f"{memory_probe.device_name()}, TF {tf.__version__}"), FLAGS.out, "memory"))


if __name__ == "__main__":
  app.run(main)
