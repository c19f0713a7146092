"""The search methods end to end on a tiny space and real Fashion-MNIST."""
import dataclasses
import inspect
import itertools
import os
import tempfile
from unittest import mock

from absl.testing import absltest
import tensorflow as tf

from radars_tf import alphas as alphas_lib
from radars_tf import data, dnas_trainer, memory_model, search_loop, search_methods
from radars_tf import search_state, single_path
from radars_tf.checkpointing import CheckpointWriteError, SearchCheckpoints
from radars_tf import search_space as ss
from radars_tf.config import RunConfig
from radars_tf.datasets import fashion_mnist_debian
from radars_tf.errors import MemoryBudgetError
from radars_tf.step_reporter import SearchFault
from radars_tf.summaries import Progress, Summaries

SMOKE = RunConfig(space="tiny", max_train_examples=512, max_test_examples=256,
                  batch_size=32, memory_budget_mb=12, warmup_steps=4, min_samples=2,
                  max_samples=4, prune_confidence=1.0,
                  rl_iterations_per_phase=2, episodes_per_iteration=4,
                  rewards_per_candidate=0,
                  path_train_steps=4, dnas_rounds=3,
                  dnas_steps_per_round=5, child_samples=4, child_train_steps=5,
                  children_per_update=4,
                  final_epochs=1)


def recording(cls, name: str, log: list, value):
  """Patches `cls.name` to append `value()` to `log` before each call."""
  real = getattr(cls, name)

  def wrapper(obj, *args):
    log.append(value())
    return real(obj, *args)
  return mock.patch.object(cls, name, wrapper)


def oom_on_second_step():
  """A DnasTrainer.train_step that raises out-of-memory on its second call only."""
  real_step = dnas_trainer.DnasTrainer.train_step
  calls = []

  def step(trainer, *args):
    calls.append(1)
    if len(calls) == 2:
      raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    return real_step(trainer, *args)
  return step


@absltest.skipUnless(os.path.isdir(fashion_mnist_debian.DEBIAN_DIR),
                     "Debian's dataset-fashion-mnist is not installed")
class SearchLoopTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.source = data.DataSource("fashion_mnist", max_train_examples=512,
                                 max_test_examples=256)

  def context(self, checkpoints=None, **changes):
    tf.keras.utils.set_random_seed(0)
    cfg = dataclasses.replace(SMOKE, **changes).validate()
    return search_loop.SearchContext(cfg, ss.load(cfg.space), self.source,
                                     tf.distribute.get_strategy(),
                                     Summaries(None), Progress(quiet=True),
                                     checkpoints)

  def test_radars_fits_budget_and_converges(self):
    ctx = self.context()
    search = search_methods.RadarsSearch(ctx)
    full = search.estimate_mb(ss.Subspace.full(ctx.space))
    self.assertGreater(full, ctx.cfg.budget_mb)
    out = search.run()
    self.assertLessEqual(out.estimate_mb, ctx.cfg.budget_mb)
    self.assertLessEqual(out.peak_step_bytes / 2**20, ctx.cfg.budget_mb)
    self.assertGreater(out.peak_step_bytes, 0)
    rl = [d for d in out.decisions if d.phase == "rl"]
    self.assertNotEmpty(rl)
    # Pruning for memory stopped at the first decision that made the estimate fit.
    fitted = [d for d in rl if d.estimate_after_mb <= ctx.cfg.budget_mb]
    self.assertLen(fitted, 1)
    self.assertIs(fitted[0], rl[-1])
    for layer, op in enumerate(out.genotype.ops):
      self.assertIn(ctx.space.candidates()[layer].index(op), out.subspace.alive[layer])
    # Each round records the subspace it ran, so an over-budget round can be probed.
    rounds = [e for e in out.events if e["kind"] == "dnas_round"]
    self.assertNotEmpty(rounds)
    for e in rounds:
      self.assertAlmostEqual(search.estimate_mb(ss.Subspace.from_json(e["alive"])),
                             e["estimate_mb"], places=6)

  def test_rl_phases_sized_in_rewards_per_candidate(self):
    out = search_methods.RadarsSearch(self.context(rewards_per_candidate=6)).run()
    phases = [e for e in out.events if e["kind"] == "rl_phase"]
    self.assertGreater(len(phases), 1)
    for e in phases:
      self.assertEqual(e["episodes_per_iteration"],
                       max(8, -(-6 * e["widest_layer"] // 2)))   # 2 iterations
      self.assertEqual(e["episodes"], 2 * e["episodes_per_iteration"])
    widths = [e["widest_layer"] for e in phases]
    self.assertLess(widths[-1], widths[0])    # pruned: fewer episodes later
    self.assertLess(phases[-1]["episodes"], phases[0]["episodes"])

  def test_dnas_rounds_stop_when_the_alphas_converge(self):
    # Every layer counts as converged at once (threshold 0.01): one round only.
    early = search_methods.RadarsSearch(self.context(converge_threshold=0.01,
                                                     memory_budget_mb=64))
    early.run()
    self.assertEqual(early.state.dnas_rounds, 1)
    self.assertLen(alphas_lib.confident_layers(early.dnas.alpha_probs(),
                                               early.subspace, 0.01), 3)
    # Never converged (threshold 1.0, the whole space fits, nothing pruned on
    # alphas): every round runs.
    full = search_methods.RadarsSearch(self.context(converge_threshold=1.0,
                                                    memory_budget_mb=64,
                                                    alpha_prune_ratio=1e-9))
    full.run()
    self.assertEqual(full.state.dnas_rounds, SMOKE.dnas_rounds)

  def test_radars_ends_with_one_op_per_layer(self):
    # Every candidate below the top alpha goes after the first round.
    out = search_methods.RadarsSearch(self.context(alpha_prune_ratio=1.0,
                                                   converge_threshold=1.0)).run()
    self.assertEqual([len(a) for a in out.subspace.alive], [1, 1, 1])
    dnas = [d for d in out.decisions if d.phase == "dnas"]
    self.assertTrue(all(d.round == 0 for d in dnas))

  def test_dnas_refuses_over_budget(self):
    with self.assertRaisesRegex(MemoryBudgetError,
                                r"^dnas: the full supernet needs \d+ MB, budget 12 MB$"):
      search_methods.make_search(self.context(method="dnas"))

  def test_dnas_runs_within_budget(self):
    out = search_methods.DnasSearch(self.context(method="dnas", memory_budget_mb=64,
                                              dnas_rounds=1)).run()
    self.assertLen(out.genotype.ops, 3)
    self.assertEmpty(out.decisions)

  def test_budget_below_one_op_per_layer(self):
    with self.assertRaisesRegex(MemoryBudgetError, "below what a one-op-per-layer"):
      search_methods.RadarsSearch(self.context(memory_budget_mb=1)).run()

  def test_nan_loss_stops_and_keeps_last_checkpoint(self):
    checkpoints = SearchCheckpoints(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")))
    real_step = dnas_trainer.DnasTrainer.train_step

    def nan_step(trainer, *args):
      metrics = real_step(trainer, *args)
      return dict(metrics, train_loss=float("nan"))
    with mock.patch.object(dnas_trainer.DnasTrainer, "train_step", nan_step):
      with self.assertRaisesRegex(SearchFault,
                                  r"non-finite loss \(nan\) in DNAS round 1"):
        search_methods.RadarsSearch(self.context(checkpoints)).run()
    state = checkpoints.load_state()
    self.assertEqual(state["phase"], "dnas")     # the last good state: before DNAS
    self.assertEqual(state["dnas_rounds"], 0)

  def test_full_disk_during_a_save_keeps_the_previous_checkpoint(self):
    checkpoints = SearchCheckpoints(tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")))
    real_save = tf.train.CheckpointManager.save
    saves = []

    def disk_fills(manager, *args, **kwargs):
      saves.append(1)
      if len(saves) == 2:        # half a checkpoint written, then no space left
        real_save(manager, *args, **kwargs)
        raise OSError(28, "No space left on device")
      return real_save(manager, *args, **kwargs)
    with mock.patch.object(tf.train.CheckpointManager, "save", disk_fills):
      with self.assertRaisesRegex(CheckpointWriteError,
                                  r"cannot save the search state .*No space left "
                                  r"on device.*previous checkpoint is intact"):
        search_methods.RadarsSearch(self.context(checkpoints)).run()
    state = checkpoints.load_state()
    self.assertEqual(state["units"], 1)
    self.assertEqual(state["checkpoint"], "ckpt-1")
    resumed = search_methods.make_search(self.context(checkpoints))
    self.assertEqual(resumed.state.units, 1)

  def test_resource_exhausted_is_survived(self):
    oom_once = oom_on_second_step()
    search = search_methods.RadarsSearch(self.context(memory_budget_mb=16))
    with mock.patch.object(dnas_trainer.DnasTrainer, "train_step", oom_once):
      out = search.run()
    oom = [e for e in out.events if e["kind"] == "out_of_memory"]
    self.assertLen(oom, 1)
    self.assertIn("pruned", oom[0]["answer"])
    self.assertTrue(any(d.phase == "dnas" for d in out.decisions))
    self.assertLen(out.genotype.ops, 3)

  def test_a_step_measured_over_the_budget_is_answered_by_pruning(self):
    # An estimate that under-counts (its search-context term made negative) lets
    # the full space through at a 14 MB budget; its real step measures above it
    # (15.4 MB here), so the round stops after that step and prunes, as after an
    # out-of-memory error, and no round runs over the budget.
    with mock.patch.object(memory_model, "SEARCH_CONTEXT", -0.6):
      out = search_methods.RadarsSearch(self.context(memory_budget_mb=14)).run()
    over = [e for e in out.events if e["kind"] == "out_of_memory"]
    self.assertNotEmpty(over)
    self.assertGreater(over[0]["peak_mb"], 14)
    self.assertRegex(over[0]["message"],
                     r"step 1 measured .* MB a replica, over the budget of 14 MB")
    self.assertIn("pruned", over[0]["answer"])
    rounds = [e for e in out.events if e["kind"] == "dnas_round"]
    self.assertNotEmpty(rounds)
    for r in rounds:
      self.assertLessEqual(r["peak_mb"], 14)
    self.assertLess(ss.Subspace.from_json(rounds[0]["alive"]).num_alive(),
                    ss.Subspace.from_json(over[0]["alive"]).num_alive())

  def test_radars_out_of_memory_prunes_then_halves_the_batch(self):
    # Pruning answers while a layer holds two candidates; a one-path subspace
    # cannot be pruned, so the batch is halved and the subspace kept.
    search = search_methods.RadarsSearch(self.context())
    before = search.subspace.num_alive()
    self.assertIn("pruned", search.shrink())
    self.assertLess(search.subspace.num_alive(), before)
    self.assertEqual(search.state.batch_size, 32)
    one_path = ss.Subspace(tuple(a[:1] for a in search.subspace.alive))
    search.apply(one_path, [])
    self.assertEqual(search.shrink(), "batch halved to 16")
    self.assertEqual(search.subspace, one_path)
    self.assertEqual(search.per_replica_batch, 16)

  def test_time_budget_stops_every_method(self):
    for method in ("radars", "random"):
      out = search_methods.run_search(self.context(method=method,
                                                max_search_seconds=1e-3))
      self.assertIn("time_budget", [e["kind"] for e in out.events])
      self.assertLen(out.genotype.ops, 3)
      if method == "random":
        self.assertLen(out.best_curve, 1)      # one child, then the budget was spent

  def test_time_budget_stops_mid_unit(self):
    steps = []
    search = search_methods.RadarsSearch(self.context(memory_budget_mb=16))
    # The budget is spent after the second DNAS step, in the middle of round 1.
    with recording(dnas_trainer.DnasTrainer, "train_step", steps, lambda: 1), \
        mock.patch.object(search_loop.Search, "time_is_up",
                          lambda self: len(steps) >= 2):
      out = search.run()
    self.assertLen(steps, 2)
    self.assertEqual(out.events[-1]["kind"], "time_budget")
    # 2 of 5 steps: past dnas_phase.CUT_ROUND_COUNTS, the round counts.
    self.assertEqual(out.events[-2]["kind"], "dnas_round")
    self.assertEqual(out.events[-2]["steps"], 2)
    # The round's set-up with its first step, then the step after it, timed.
    self.assertGreater(out.events[-2]["first_step_seconds"],
                       out.events[-2]["step_seconds"])
    self.assertEqual(search.state.dnas_rounds, 1)
    self.assertGreater(out.peak_step_bytes, 0)       # the cut round was measured
    self.assertLen(out.genotype.ops, 3)

  def test_time_budget_stops_the_rl_phase_after_a_round_mid_iteration(self):
    dnas, paths, scores = [], [], []     # paths and scores: DNAS steps before each
    search = search_methods.RadarsSearch(self.context(memory_budget_mb=16))
    # Round 1 ends (5 steps); the budget is spent 2 shared-weight steps into the
    # RL phase that follows it, before its agent scores anything.
    sp = single_path.SinglePathTrainer
    with recording(dnas_trainer.DnasTrainer, "train_step", dnas, lambda: 1), \
        recording(sp, "train_path", paths, lambda: len(dnas)), \
        recording(sp, "score", scores, lambda: len(dnas)), \
        mock.patch.object(search_loop.Search, "time_is_up",
                          lambda self: paths.count(5) >= 2):
      out = search.run()
    self.assertLen(dnas, 5)
    self.assertEqual(paths.count(5), 2)
    self.assertNotIn(5, scores)
    self.assertEqual(out.events[-1]["kind"], "time_budget")
    self.assertEqual(out.events[-2]["kind"], "dnas_round")
    self.assertEqual(search.state.dnas_rounds, 1)

  def test_rl_deadline_cuts_an_iteration_after_the_first_mid_way(self):
    scores, before_dnas = [], []       # before_dnas: rewards before each DNAS step
    # The RL deadline (60 s of 100) passes at the 6th reward: 2 into the phase's
    # second iteration of 4 episodes, which stops there; its rewards count.
    search = search_methods.RadarsSearch(self.context(
        memory_budget_mb=16, max_search_seconds=100, rl_iterations_per_phase=3,
        min_samples=10_000, max_samples=10_000))
    with recording(single_path.SinglePathTrainer, "score", scores, lambda: 1), \
        recording(dnas_trainer.DnasTrainer, "train_step", before_dnas,
                  lambda: len(scores)), \
        mock.patch.object(search_loop.Search, "elapsed",
                          property(lambda self: 60 if len(scores) >= 6 else 0)):
      out = search.run()
    phase = [e for e in out.events if e["kind"] == "rl_phase"][0]
    self.assertEqual((phase["iterations"], phase["episodes"]), (1, 6))
    self.assertEqual(before_dnas[0], 6)

  def test_units_read_without_tf_data_autotuning(self):
    # Dropping an autotuned iterator waits for tf.data's autotuning thread (up to
    # 70 s measured at a unit's start): a unit's iterators have none.
    search = search_methods.RadarsSearch(self.context(memory_budget_mb=16))
    real = data.DataSource.dataset
    with mock.patch.object(data.DataSource, "dataset", autospec=True,
                           side_effect=real) as made:
      search.begin_unit()
    calls = [inspect.signature(real).bind(*c.args, **c.kwargs).arguments
             for c in made.call_args_list]
    self.assertEqual([(c["part"], c["autotune"]) for c in calls],
                     [("search_train", False), ("search_val", False)])

  def test_rl_deadline_cuts_a_later_phase_in_its_first_iteration(self):
    # One iteration of 4 episodes a phase; nothing is condemned, so a second phase
    # follows the first. The RL deadline (60 s of 100) passes at the 6th reward,
    # in the second phase's first iteration, which stops there (its rewards
    # count); or between the first phase's pruning and the second's start, which
    # then scores nothing.
    scores = []
    at_6th_reward = lambda search: 60 if len(scores) >= 6 else 0
    after_unit_1 = lambda search: 60 if search.state.units >= 2 else 0
    for clock, second in ((at_6th_reward, (0, 2)), (after_unit_1, (0, 0))):
      with self.subTest(second=second):
        scores.clear()
        search = search_methods.RadarsSearch(self.context(
            memory_budget_mb=16, max_search_seconds=100, rl_iterations_per_phase=1,
            min_samples=10_000, max_samples=10_000))
        with recording(single_path.SinglePathTrainer, "score", scores, lambda: 1), \
            mock.patch.object(search_loop.Search, "elapsed", property(clock)):
          out = search.run()
        kinds = [e["kind"] for e in out.events]
        phases = [e for e in out.events if e["kind"] == "rl_phase"]
        self.assertEqual([(p["iterations"], p["episodes"]) for p in phases[:2]],
                         [(1, 4), second])
        self.assertEqual(kinds[kinds.index("rl_phase") + 2], "rl_deadline")
        self.assertIn("dnas_round", kinds)

  def test_no_round_begun_that_cannot_count_before_the_budget(self):
    # After round 1 the clock reads 99 of 100 s: a next round could not reach a
    # quarter of its steps, so neither it nor the RL phase before it begins.
    search = search_methods.RadarsSearch(self.context(memory_budget_mb=16,
                                                      max_search_seconds=100))
    with mock.patch.object(search_loop.Search, "elapsed", property(
        lambda self: 99 if self.state.dnas_rounds else 0)):
      out = search.run()
    kinds = [e["kind"] for e in out.events]
    self.assertEqual(kinds.count("dnas_round"), 1)
    self.assertEqual(kinds[kinds.index("dnas_round") + 1:], ["no_time_for_round"])
    self.assertEqual(search.state.phase, search_state.Phase.DONE)

  def test_a_round_no_next_round_could_follow_goes_on_to_the_budget(self):
    # From round 1's first step the clock reads 99.9 of 100 s: no next round
    # could count, so round 1 runs past its 5 steps until the budget (12 steps).
    steps = []
    search = search_methods.RadarsSearch(self.context(memory_budget_mb=16,
                                                      max_search_seconds=100))
    with recording(dnas_trainer.DnasTrainer, "train_step", steps, lambda: 1), \
        mock.patch.object(search_loop.Search, "elapsed",
                          property(lambda self: 99.9 if steps else 0)), \
        mock.patch.object(search_loop.Search, "time_is_up",
                          lambda self: len(steps) >= 12):
      out = search.run()
    rounds = [e for e in out.events if e["kind"] == "dnas_round"]
    self.assertLen(rounds, 1)
    self.assertEqual(rounds[0]["steps"], 12)
    self.assertEqual(out.events[-1]["kind"], "time_budget")

  def test_a_short_time_budget_still_reaches_dnas(self):
    # The evidence rule condemns nothing in time (min_samples is out of reach), so
    # only the schedule's deadline lets RL pruning fit the budget. The clock is
    # one second per reading.
    clock = itertools.count()
    search = search_methods.RadarsSearch(self.context(
        memory_budget_mb=16, max_search_seconds=400, warmup_steps=10_000,
        rl_iterations_per_phase=10_000, min_samples=10_000, max_samples=10_000))
    with mock.patch.object(search_loop.Search, "elapsed",
                           property(lambda self: next(clock))):
      out = search.run()
    kinds = [e["kind"] for e in out.events]
    warmup = out.events[kinds.index("warmup")]
    self.assertBetween(warmup["steps"], 2, 101)   # cut at 100 s (a reading a step)
    self.assertIn("rl_deadline", kinds)
    self.assertLess(kinds.index("rl_deadline"), kinds.index("dnas_round"))
    self.assertLessEqual(search.estimate_mb(out.subspace), 16)
    self.assertTrue(all(d.samples < 10_000 for d in out.decisions))

  def test_dnas_time_is_all_of_the_budget_radars_after_its_shares(self):
    # The temperature follows DNAS's share of the time: for --method=dnas from the
    # start, for radars from the RL deadline (0.25 + 0.35 of the budget).
    dnas = search_methods.DnasSearch(self.context(
        method="dnas", memory_budget_mb=64, max_search_seconds=100))
    radars = search_methods.RadarsSearch(self.context(max_search_seconds=100))
    self.assertAlmostEqual(dnas.schedule.dnas_progress(50), 0.5)
    self.assertAlmostEqual(radars.schedule.dnas_progress(50), 0.0)
    self.assertAlmostEqual(radars.schedule.dnas_progress(80), 0.5)

  def test_dnas_out_of_memory_halves_the_batch_then_gives_up(self):
    oom_once = oom_on_second_step()
    ctx = self.context(method="dnas", memory_budget_mb=64, dnas_rounds=1)
    with mock.patch.object(dnas_trainer.DnasTrainer, "train_step", oom_once):
      out = search_methods.make_search(ctx).run()
    oom = [e for e in out.events if e["kind"] == "out_of_memory"]
    self.assertEqual([e["answer"] for e in oom], ["batch halved to 16"])

    def always_oom(trainer, *args):
      raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    with mock.patch.object(dnas_trainer.DnasTrainer, "train_step", always_oom):
      with self.assertRaisesRegex(SearchFault, r"out of memory 4 times in DNAS "
                                               r"round 1; lower --memory_budget_mb"):
        search_methods.make_search(ctx).run()
    one = self.context(method="dnas", memory_budget_mb=64, dnas_rounds=1, batch_size=1)
    with mock.patch.object(dnas_trainer.DnasTrainer, "train_step", always_oom):
      with self.assertRaisesRegex(SearchFault, "out of memory at the smallest batch"):
        search_methods.make_search(one).run()

  def test_rl_phases_max_spent(self):
    ctx = self.context(rl_phases_max=1, min_samples=1000, max_samples=1000)
    with self.assertRaisesRegex(MemoryBudgetError,
                                r"^radars: after 1 RL phases the subspace still "
                                r"needs \d+ MB, budget 12 MB \(raise --rl_phases_max"):
      search_methods.RadarsSearch(ctx).run()

  def test_every_method_resumes_from_its_checkpoint(self):
    for method, changes in (("rl", dict(child_samples=8)), ("random", {}),
                            ("dnas", dict(memory_budget_mb=64, dnas_rounds=2))):
      checkpoints = SearchCheckpoints(
          tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")))
      first = search_methods.make_search(self.context(checkpoints, method=method,
                                                      **changes))
      unit = first.next_unit()
      first.begin_unit()
      unit()
      first.state.units += 1
      first.save()
      resumed = search_methods.make_search(self.context(checkpoints, method=method,
                                                        **changes))
      self.assertEqual(resumed.state.units, 1, method)
      self.assertEqual(resumed.state.samples, first.state.samples, method)
      self.assertEqual(resumed.state.dnas_rounds, first.state.dnas_rounds, method)
      if method == "dnas":
        self.assertAllClose(resumed.dnas.alphas.logits, first.dnas.alphas.logits)
      out = resumed.run()
      self.assertLen(out.genotype.ops, 3, method)
      self.assertGreater(resumed.state.units, 1, method)

  def test_rl_and_random_children(self):
    for method in ("rl", "random"):
      out = search_methods.run_search(self.context(method=method))
      self.assertLen(out.best_curve, 4)
      self.assertEqual(out.best_curve[-1][1], max(b for _, b in out.best_curve))
      self.assertLen(out.genotype.ops, 3)


if __name__ == "__main__":
  absltest.main()
