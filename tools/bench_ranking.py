"""Ground truth for the search's proxies: how well does each score the search acts
on rank architectures as training them stand-alone does?

  bash tools/setup.sh --bench
  .venv/bin/python tools/bench_ranking.py --out=runs/ranking

1. --archs architectures sampled uniformly from --space with --arch_seed, each
   trained stand-alone for --gt_steps steps (batch --batch_size, SGD lr --gt_lr,
   constant or cosine-decayed by --gt_schedule) with
   every seed of --gt_seeds, and evaluated on the first --val_examples examples of
   the search's validation part. Every finished (architecture, seed) accuracy, and
   the `child` proxy, is kept in --ground_truth (<out>/ground_truth.json) and
   reused: an interrupted run continues, and a run with other search flags reuses
   them (keep the file in the repository, docs/results/, to keep it across
   machines).
2. The proxies, each scoring the same architectures on the same validation
   examples: FLOPs (no training: the trivial proxy a search signal must beat),
   `child` (rl's score: a child trained --child_train_steps from
   scratch), the shared-weight score of the real RADARS search objects after the
   warm-up (with --finetune_steps, also after that many steps of each
   architecture's own path) and after each of --rl_phases RL phases (no pruning in
   between; --noshared_rows skips these scorings), the `evidence` surrogate (sum
   over layers of each candidate's effect in evidence.py's regression of the
   rewards collected so far, the quantity pruning acts on; the rewards are kept
   in evidence_<phase>.json for other estimators), and, after the
   RL phases (--dnas), the DNAS alphas: the search's DNAS rounds (--dnas_rounds of
   --dnas_steps_per_round steps, its own trainer and temperature schedule) over
   the union of the architectures' candidates, each architecture scored by the
   log-probability of its choices under the alphas after every round.
3. Kendall tau and Spearman rho of every proxy against the seed-mean accuracy, and
   the spread of accuracy across architectures beside the spread across seeds,
   with the tau that this seed noise leaves a perfect proxy (`ceilings`), and
   bootstrap intervals over the architectures (`tau_interval`) of every tau and
   of its difference from FLOPs' tau (does the proxy beat size?). With
   --with_flops, every trained proxy also combined with FLOPs by the mean of
   their ranks (measured at 36 architectures, the warm-up's shared weights and
   FLOPs were nearly independent of each other: a combination may beat both).
Flags after `--` go to the search's RunConfig (e.g. -- --warmup_steps=300).
"""
import os
import sys
import time

from absl import app, flags, logging
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from radars_tf.checkpointing import write_json_atomic  # pylint: disable=wrong-import-position
from radars_tf.config import RunConfig  # pylint: disable=wrong-import-position
import figures  # pylint: disable=wrong-import-position  (tools/figures.py)
import kept_results  # pylint: disable=wrong-import-position  (tools/)

flags.DEFINE_string("out", "runs/ranking", "Directory of the cache and the table.")
flags.DEFINE_string("space", "large", "Search space.")
flags.DEFINE_integer("archs", 20, "Architectures sampled (the first --archs of "
                     "one seeded stream: a kept ground truth of more serves).")
flags.DEFINE_integer("arch_seed", 0, "Seed of the architecture sample.")
flags.DEFINE_integer("gt_steps", 300, "Stand-alone training steps (ground truth).")
flags.DEFINE_float("gt_lr", 0.05, "Stand-alone (peak) learning rate.")
flags.DEFINE_enum("gt_schedule", "constant", ["constant", "cosine"],
                  "Stand-alone learning rate schedule: cosine decays it to 0 by the "
                  "last step, so the final weights depend less on the last batches.")
flags.DEFINE_list("gt_seeds", ["0", "1"], "Training seeds of the ground truth.")
flags.DEFINE_integer("batch_size", 64, "Batch of every training and scoring (the "
                     "search's too, unless set after --).")
flags.DEFINE_integer("val_examples", 1024, "Validation examples every score uses.")
flags.DEFINE_integer("rl_phases", 2, "RL phases after the warm-up (proxies).")
flags.DEFINE_integer("finetune_steps", 0, "Also score each architecture after "
                     "this many steps on its own path from the warmed-up shared "
                     "weights (restored after each; the later rows then see other "
                     "batches).")
flags.DEFINE_bool("dnas", True, "Score the DNAS alphas after the RL phases.")
flags.DEFINE_float("slices_budget_mb", 0.0, "With --dnas: DNAS over the whole "
                   "space split into the fewest slices that each fit this budget "
                   "(slicing.py; a round of --dnas_steps_per_round per slice, each "
                   "with its own temperature schedule), scored by the sum of each "
                   "choice's logit centred in its slice, instead of the union's "
                   "rounds.")
flags.DEFINE_string("ground_truth", "", "JSON file of the kept ground truth "
                    "(default: <out>/ground_truth.json).")
flags.DEFINE_bool("ground_truth_only", False, "Stop after the ground truth.")
flags.DEFINE_bool("shared_rows", True, "Score every architecture with the shared "
                  "weights after the warm-up and each RL phase (5-12 min a row on "
                  "`large`); without, the evidence and DNAS rows only.")
flags.DEFINE_bool("with_flops", True, "Beside every trained proxy, the mean of its "
                  "ranks and FLOPs' ranks (a combination without fitted weights).")
FLAGS = flags.FLAGS


def protocol() -> dict:
  from radars_tf import search_space as ss  # pylint: disable=import-outside-toplevel
  # Not --archs: the architectures are a prefix of one seeded stream, so a kept
  # ground truth grows with a larger --archs and serves a smaller one.
  return {"space": ss.load(FLAGS.space).to_dict(),
          "arch_seed": FLAGS.arch_seed,
          "gt_steps": FLAGS.gt_steps, "gt_lr": FLAGS.gt_lr,
          **({"gt_schedule": FLAGS.gt_schedule}
             if FLAGS.gt_schedule != "constant" else {}),
          "batch_size": FLAGS.batch_size, "val_examples": FLAGS.val_examples,
          "dataset": "fashion_mnist"}


def config_value(arg: str):
  """`--name=value` after `--` as a RunConfig (name, value) of the field's type."""
  name, value = arg.lstrip("-").split("=", 1)
  kind = type(getattr(RunConfig, name))
  return name, (value.lower() in ("1", "true") if kind is bool else kind(value))


def kendall_spearman(x, y):
  from scipy import stats  # pylint: disable=import-outside-toplevel
  return (float(stats.kendalltau(x, y).statistic),
          float(stats.spearmanr(x, y).statistic))


def tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Kendall's tau-b of each row pair of x, y ([..., n]), as scipy's; 0 where a
  row is constant. Vectorised over thousands of bootstrap resamples, but O(n^2)
  in memory: single taus of many architectures stay with scipy's
  (`kendall_spearman`)."""
  dx = np.sign(x[..., :, None] - x[..., None, :])
  dy = np.sign(y[..., :, None] - y[..., None, :])
  pairs = np.triu(np.ones(x.shape[-1], bool), 1)
  s = (dx * dy)[..., pairs].sum(-1)
  norm = np.sqrt(np.abs(dx)[..., pairs].sum(-1) * np.abs(dy)[..., pairs].sum(-1))
  return np.where(norm > 0, s / np.where(norm > 0, norm, 1), 0.0)


def tau_interval(scores, truth, level: float = 0.95, reps: int = 2000,
                 seed: int = 0, baseline=None):
  """Percentile bootstrap interval of Kendall tau over resampled architectures
  (with `baseline`, of tau minus the baseline's tau on the same resamples): with
  20 architectures one tau is uncertain by about +-0.3, so a reader needs it to
  tell two proxies apart."""
  scores, truth = np.asarray(scores, float), np.asarray(truth, float)
  idx = np.random.default_rng(seed).integers(len(truth), size=(reps, len(truth)))
  taus = tau_b(scores[idx], truth[idx])
  if baseline is not None:
    taus = taus - tau_b(np.asarray(baseline, float)[idx], truth[idx])
  return tuple(float(q) for q in np.quantile(taus, [(1 - level) / 2,
                                                     (1 + level) / 2]))


def rank_mean(*scores) -> np.ndarray:
  """Mean of each architecture's ranks under the given scores (ties: mean rank):
  a combination of proxies on different scales with no weight fitted to the
  ground truth."""
  from scipy import stats  # pylint: disable=import-outside-toplevel
  return np.mean([stats.rankdata(s) for s in scores], axis=0)


def ceilings(truth, seed_sd: float, seeds: int):
  """Kendall tau that seed noise allows, if architecture effects and seed noise
  are normal: between two single seeds' rankings, and between the true ranking
  (a perfect proxy) and the mean of `seeds` seeds. Greiner's relation turns a
  correlation r into tau = 2/pi asin(r); r comes from the variance components
  (the architectures' own variance is the seed mean's less seed_sd^2 / seeds)."""
  mean_var, seed_var = float(np.var(truth, ddof=1)), seed_sd ** 2
  own = max(0.0, mean_var - seed_var / seeds)
  between_seeds = own / (own + seed_var)
  perfect = np.sqrt(own / mean_var) if mean_var else 0.0
  return tuple(float(2 / np.pi * np.arcsin(r)) for r in (between_seeds, perfect))


def main(argv):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from radars_tf import children, data, search_methods, search_loop  # pylint: disable=import-outside-toplevel
  from radars_tf import slicing  # pylint: disable=import-outside-toplevel
  from radars_tf import search_space as ss  # pylint: disable=import-outside-toplevel
  from radars_tf.errors import UserError  # pylint: disable=import-outside-toplevel
  from radars_tf.search_space import Subspace  # pylint: disable=import-outside-toplevel
  from radars_tf.summaries import Progress, Summaries  # pylint: disable=import-outside-toplevel
  logging.set_verbosity(logging.ERROR)
  tf.get_logger().setLevel("ERROR")
  os.makedirs(FLAGS.out, exist_ok=True)
  cache_path = FLAGS.ground_truth or os.path.join(FLAGS.out, "ground_truth.json")
  cache = kept_results.load(cache_path, protocol())
  cache.setdefault("acc", {})
  space = ss.load(FLAGS.space)
  rng = np.random.default_rng(FLAGS.arch_seed)
  archs = [tuple(int(rng.integers(len(c))) for c in space.candidates())
           for _ in range(FLAGS.archs)]
  source = data.DataSource("fashion_mnist")
  strategy = tf.distribute.get_strategy()
  batch = FLAGS.batch_size
  n_val = FLAGS.val_examples // batch
  val = list(source.dataset("search_val", batch, False).take(n_val))

  def train_from_scratch(arch, steps, seed, schedule="constant"):
    tf.keras.utils.set_random_seed(seed)
    lr = (tf.keras.optimizers.schedules.CosineDecay(FLAGS.gt_lr, steps)
          if schedule == "cosine" else FLAGS.gt_lr)
    train = iter(source.distributed(strategy, "search_train", batch, True, seed))
    evaluator = children.ChildEvaluator(space, source.input_shape, 10, strategy,
                                        batch, steps, lr, n_val, train,
                                        iter(val))
    return evaluator(arch)

  start = time.time()
  for i, arch in enumerate(archs):
    for seed in FLAGS.gt_seeds:
      key = f"{i}:{seed}"
      if key in cache["acc"]:
        continue
      cache["acc"][key] = train_from_scratch(arch, FLAGS.gt_steps, int(seed),
                                             FLAGS.gt_schedule)
      write_json_atomic(cache_path, cache)
      print(f"ground truth {key}: {cache['acc'][key]:.4f} "
            f"({time.time() - start:.0f} s)", flush=True)
  acc = np.array([[cache["acc"][f"{i}:{s}"] for s in FLAGS.gt_seeds]
                  for i in range(len(archs))])
  truth = acc.mean(axis=1)
  seed_sd = float(np.sqrt(np.mean(acc.var(axis=1, ddof=1)))) if acc.shape[1] > 1 else 0
  lines = [f"space {FLAGS.space}, {len(archs)} architectures (seed {FLAGS.arch_seed}), "
           f"stand-alone {FLAGS.gt_steps} steps at batch {batch} (lr {FLAGS.gt_lr}, "
           f"{FLAGS.gt_schedule}), seeds "
           f"{','.join(FLAGS.gt_seeds)}; scored on {n_val * batch} validation examples",
           f"accuracy across architectures: mean {truth.mean():.4f}, sd "
           f"{truth.std(ddof=1):.4f}, range {truth.min():.4f}-{truth.max():.4f}; "
           f"across training seeds: sd {seed_sd:.4f}"
           + (f"; Kendall tau between the first two seeds' rankings "
              f"{kendall_spearman(acc[:, 0], acc[:, 1])[0]:.2f}"
              " (normal model: {:.2f}); a perfect proxy against the seed mean: "
              "about {:.2f}".format(*ceilings(truth, seed_sd, acc.shape[1]))
              if acc.shape[1] > 1 else ""), "",
           "| proxy | Kendall tau | its 95% bootstrap interval | tau minus FLOPs' "
           "(95% interval) | Spearman rho | tau against FLOPs | seconds |",
           "|---|---|---|---|---|---|---|"]
  if FLAGS.ground_truth_only:
    print("\n".join(lines[:2]))
    return 0

  scored, taus = {}, {}

  def row(name, scores, seconds):
    tau, rho = kendall_spearman(scores, truth)
    # Against FLOPs too: a proxy that only tracks the architecture's size.
    flops_tau = kendall_spearman(scores, scored["FLOPs"])[0] if scored else 1.0
    low, high = tau_interval(scores, truth)
    over = ("{:.2f} to {:.2f}".format(*tau_interval(scores, truth,
                                                     baseline=scored["FLOPs"]))
            if scored else "")
    lines.append(f"| {name} | {tau:.3f} | {low:.2f} to {high:.2f} | {over} | "
                 f"{rho:.3f} | {flops_tau:.3f} | {seconds:.0f} |")
    print(lines[-1], flush=True)
    short = name.split(" (")[0]
    if scored and FLAGS.with_flops and not short.endswith("FLOPs' ranks"):
      row(f"{short} and FLOPs' ranks (mean)", rank_mean(scores, scored["FLOPs"]), 0)
    scored[short], taus[short] = scores, tau

  from radars_tf import memory_model  # pylint: disable=import-outside-toplevel
  from radars_tf.genotype import from_choices  # pylint: disable=import-outside-toplevel
  row("FLOPs (no training: the trivial proxy to beat)",
      [2 * memory_model.model_macs(space, from_choices(space, a).ops,
                                   source.input_shape, 10) for a in archs], 0)
  t = time.time()
  steps = RunConfig().child_train_steps
  key = f"child_{steps}"                # rl's proxy does not depend on the search
  kept = cache.setdefault(key, [])
  if len(kept) < len(archs):
    kept += [train_from_scratch(a, steps, 0) for a in archs[len(kept):]]
    cache[key + "_seconds"] = cache.get(key + "_seconds", 0) + time.time() - t
    write_json_atomic(cache_path, cache)
  row(f"child ({steps} steps from scratch, rl's score)", kept[:len(archs)],
      cache[key + "_seconds"] * len(archs) / len(kept))

  # No cost term and no memory budget: the proxies are the search's signals alone
  # (a DNAS round over the budget would stop; on `large` the union of 20
  # architectures' candidates needs about 2.3 GB at batch 64).
  # The search's batch is --batch_size unless a flag after `--` sets its own.
  cfg = RunConfig(**{
      "space": FLAGS.space, "batch_size": batch, "target_mflops": 0.0,
      "memory_budget_mb": 1e6, **dict(config_value(a) for a in argv[1:])}).validate()
  tf.keras.utils.set_random_seed(cfg.seed)     # as the search's pipeline does
  if cfg.deterministic:                        # -- --deterministic=true
    tf.config.experimental.enable_op_determinism()
  ctx = search_loop.SearchContext(cfg, space, source, strategy, Summaries(None),
                                  Progress(quiet=True))
  search = search_methods.RadarsSearch(ctx)
  slices = []
  if FLAGS.dnas and FLAGS.slices_budget_mb:     # checked before the warm-up
    try:
      slices = slicing.fitting(space, Subspace.full(space), source.input_shape, 10,
                               search.per_replica_batch, FLAGS.slices_budget_mb,
                               cfg.seed)
    except UserError as e:
      raise SystemExit(f"error: {e}") from None
  paths = search.rl.paths

  def shared_scores():
    return [paths.score(iter(val), a, n_val) for a in archs]

  def summed(table):
    """Each architecture's sum over layers of its choice's entry in a [layer,
    candidate] table."""
    return [float(sum(table[l, c] for l, c in enumerate(a))) for a in archs]

  def evidence_scores():
    return summed(np.nan_to_num(search.state.evidence.mean()))

  def timed_unit(run) -> float:
    """`run()` as a search unit (fresh seeded pipelines, then counted); its
    seconds."""
    t = time.time()
    search.begin_unit()
    run()
    search.state.units += 1
    return time.time() - t

  def finetuned_scores(steps):
    """One-shot scores after a few steps of each architecture's own path (the
    fine-tuning of one-shot estimators); the weights and slots are restored."""
    scores = []
    for a in archs:
      saved = [(v, v.numpy()) for v in search.net.variables
               + paths.opt.variables()]
      paths.train(search.train_iter, steps, lambda a=a: a)
      scores.append(paths.score(iter(val), a, n_val))
      for v, value in saved:
        v.assign(value)
    return scores

  def alpha_scores():
    """Log-probability of each architecture under the alphas (the union holds
    every choice, so none is -inf)."""
    with np.errstate(divide="ignore"):   # the candidates outside the union
      return summed(np.log(search.dnas.alpha_probs()))

  def sliced_dnas_scores():
    """A DNAS round over each slice, each with a fresh trainer (its own
    temperature schedule); each architecture's sum of its choices' logits
    centred per slice, and the seconds."""
    tables, seconds = [], 0.0
    for part in slices:
      with search.net.focused(part):
        search.dnas.make_trainer(cfg.dnas_steps_per_round)
        seconds += timed_unit(search.dnas.round)
        tables.append(slicing.centred(search.dnas.alphas.logits.numpy(), part))
      print(f"slice {len(tables)} of {len(slices)}: {part.num_alive()} "
            f"candidates, estimate {search.estimate_mb(part):.0f} MB", flush=True)
    return summed(np.nan_to_num(slicing.merged(tables))), seconds

  t = time.time()
  timed_unit(search.rl.warmup)
  if FLAGS.shared_rows:
    row(f"shared weights after the warm-up ({cfg.warmup_steps} steps)",
        shared_scores(), time.time() - t)    # its scoring counted, as always
  if FLAGS.finetune_steps:
    t = time.time()
    row(f"shared weights after the warm-up, each architecture fine-tuned "
        f"{FLAGS.finetune_steps} steps", finetuned_scores(FLAGS.finetune_steps),
        time.time() - t)
  for phase in range(FLAGS.rl_phases):
    seconds = timed_unit(search.rl.run)
    if FLAGS.shared_rows:
      row(f"shared weights after RL phase {phase + 1}", shared_scores(), seconds)
    row(f"evidence after RL phase {phase + 1}", evidence_scores(),
        0 if FLAGS.shared_rows else seconds)
    # The rewards themselves, for estimators other than the search's (offline).
    write_json_atomic(os.path.join(FLAGS.out, f"evidence_{phase + 1}.json"),
                      search.state.evidence.to_json())
  if slices:
    scores, seconds = sliced_dnas_scores()
    row(f"DNAS logits over {len(slices)} slices of {FLAGS.slices_budget_mb:.0f} MB "
        f"({cfg.dnas_steps_per_round} steps each, centred per slice)", scores,
        seconds)
  elif FLAGS.dnas:
    union = Subspace.from_json([sorted({a[l] for a in archs})
                                for l in range(len(archs[0]))])
    search.apply(union, [])
    for r in range(cfg.dnas_rounds):
      seconds = timed_unit(search.dnas.round)
      row(f"DNAS alphas after round {r + 1} ({cfg.dnas_steps_per_round} steps over "
          f"the union's {union.num_alive()} candidates)", alpha_scores(), seconds)
  lines.append("")
  lines.append("search flags: " + (" ".join(argv[1:]) or "defaults"))
  table = os.path.join(FLAGS.out, "ranking.md")
  with open(table, "w") as f:
    f.write("\n".join(lines) + "\n")
  write_json_atomic(os.path.join(FLAGS.out, "scores.json"),
                    {"truth": truth.tolist(), "archs": archs,
                     "scores": {k: list(map(float, v)) for k, v in scored.items()}})
  print("\n".join(lines))
  print(f"written to {table} (scores: scores.json)")
  print(figures.drawn(lambda path: figures.ranking(truth, scored, taus, path,
                                                   lines[0]), FLAGS.out, "ranking"))
  return 0


if __name__ == "__main__":
  app.run(main)
