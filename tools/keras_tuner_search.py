"""KerasTuner as search methods: the peers a Keras user would pick, run through the
same pipeline as radars_tf's methods (same data, final training, test, report).

Each searchable layer's op is an `hp.Choice`. An epoch of a trial is
`--child_train_steps` steps (what `rl`/`random` train a child for), scored on
`--score_batches` validation batches; no trial starts after `--max_search_seconds`.
  keras_tuner            RandomSearch: one epoch a trial, from scratch.
  keras_tuner_hyperband  Hyperband (factor 3, up to 9 epochs): many one-epoch trials,
                         the best third continued for 3 epochs, the best of those 9;
                         brackets repeat until the time budget ends.
  keras_tuner_bayesian   BayesianOptimization (Gaussian process, UCB): one epoch a
                         trial, the first 10 trials random.
Benchmark-only: needs tools/requirements-bench.txt (bash tools/setup.sh --bench).

  python tools/keras_tuner_search.py --method=keras_tuner_hyperband \
      --model_dir=runs/kt --max_search_seconds=240
"""
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from radars_tf import run  # pylint: disable=g-import-not-at-top,wrong-import-position
from radars_tf.config import METHODS  # pylint: disable=wrong-import-position

ORACLES = {"keras_tuner": "RandomSearch", "keras_tuner_hyperband": "Hyperband",
           "keras_tuner_bayesian": "BayesianOptimization"}
# Brackets repeat until the time budget ends, as the other oracles run until it does.
HYPERBAND = dict(max_epochs=9, factor=3, hyperband_iterations=1000)
BAYESIAN = dict(num_initial_points=10)


def make_search(ctx):
  """A `search_loop.Search` whose one unit is a time-limited KerasTuner search with
  the oracle `ctx.cfg.method` names."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from radars_tf import genotype as genotype_lib  # pylint: disable=import-outside-toplevel
  from radars_tf import search_loop, search_methods, training  # pylint: disable=import-outside-toplevel
  from radars_tf.search_state import Phase  # pylint: disable=import-outside-toplevel
  from radars_tf.step_reporter import SearchFault  # pylint: disable=import-outside-toplevel
  from radars_tf.errors import UserError  # pylint: disable=import-outside-toplevel
  try:
    import keras_tuner as kt  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise UserError("keras-tuner is not installed (a benchmark-only dependency): "
                    "run `bash tools/setup.sh --bench`") from e
  from radars_tf.search_space import Subspace  # pylint: disable=import-outside-toplevel

  name = ORACLES[ctx.cfg.method]
  oracle_class, settings = {
      "RandomSearch": (kt.oracles.RandomSearchOracle, {}),
      "Hyperband": (kt.oracles.HyperbandOracle, HYPERBAND),
      "BayesianOptimization": (kt.oracles.BayesianOptimizationOracle, BAYESIAN),
  }[name]
  # Hyperband's tuner resumes a continued trial from its parent's checkpoint.
  tuner_base = kt.Hyperband if name == "Hyperband" else kt.Tuner

  class TimedOracle(oracle_class):
    """The oracle, starting no trial after the search time budget."""

    def __init__(self, out_of_time, **kwargs):
      super().__init__(**kwargs)
      self.out_of_time = out_of_time

    def populate_space(self, trial_id):
      if self.out_of_time():
        return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
      return super().populate_space(trial_id)

  class KerasTunerSearch(search_loop.Search):
    method = ctx.cfg.method

    def __init__(self, ctx, state):
      super().__init__(ctx, state)
      if ctx.strategy.num_replicas_in_sync > 1:
        raise UserError("keras_tuner runs on one replica here")
      self.cands = self.space.candidates()
      limit = self.cfg.max_search_seconds
      oracle = TimedOracle(
          lambda: bool(limit) and self.elapsed >= limit,
          objective=kt.Objective("val_accuracy", "max"), seed=self.cfg.seed,
          **({} if name == "Hyperband" else {"max_trials": 10 ** 6}), **settings)
      outer = self

      class Tuner(tuner_base):
        def __init__(self, **kwargs):   # the oracle is made above, also for Hyperband
          kt.Tuner.__init__(self, **kwargs)

        def on_trial_end(self, trial):
          super().on_trial_end(trial)
          if trial.score is not None:
            outer.note_score(float(trial.score))
          outer.reporter.check_stop()

      self.tuner = Tuner(oracle=oracle, hypermodel=self.build_model,
                         directory=ctx.checkpoints.directory if ctx.checkpoints
                         else tempfile.mkdtemp(), project_name="keras_tuner")

    def build_model(self, hp):
      choices = [self.cands[l].index(hp.Choice(f"layer{l:02d}", list(c)))
                 for l, c in enumerate(self.cands)]
      model = genotype_lib.from_choices(self.space, choices).build(
          self.space, self.input_shape, self.num_classes)
      model.compile(
          training.sgd(self.cfg.w_lr),
          tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
          metrics=["accuracy"])
      return model

    def next_unit(self):
      return self.tune if self.state.phase is Phase.CHILDREN else None

    def tune(self):
      source = self.ctx.source
      train = source.dataset("search_train", self.state.batch_size, True,
                             seed=self.unit_seed)
      val = source.dataset("search_val", self.state.batch_size, True,
                           seed=self.unit_seed + 1)

      def run_trials():
        self.tuner.search(train, epochs=1, steps_per_epoch=self.cfg.child_train_steps,
                          validation_data=val, validation_steps=self.cfg.score_batches,
                          verbose=0)
      self.measured(run_trials, [])
      trials = [t for t in self.tuner.oracle.trials.values() if t.score is not None]
      self.record("keras_tuner", oracle=name, settings=settings, trials=len(trials),
                  best_val_acc=max((t.score for t in trials), default=None))
      self.ctx.progress.note(f"{self.method} ({name}): {len(trials)} trials")
      self.set_phase(Phase.DONE)

    def finish(self):
      best = self.tuner.get_best_hyperparameters(1)
      if not best:
        raise SearchFault(f"{self.method} finished no trial within "
                        "--max_search_seconds")
      ops = [best[0].get(f"layer{l:02d}") for l in range(len(self.cands))]
      geno = genotype_lib.Genotype(self.space.name, tuple(ops))
      full = Subspace.full(self.space)
      return self.outcome(geno, full)

  return search_methods.make_search(ctx, KerasTunerSearch, Phase.CHILDREN)


def main(argv):
  return run.main(argv, methods=METHODS + tuple(ORACLES), make_search=make_search)


if __name__ == "__main__":
  run.entry(main)
