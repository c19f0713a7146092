"""tools/compare_methods.py: table rows and target verdicts from run results."""
import os
import sys
import tempfile
from unittest import mock

from absl.testing import absltest
from absl.testing import flagsaver

from tests import cli

cm = cli.tool("compare_methods")


def run(acc, peak=100.0, seconds=240.0):
  return {"test_accuracy": acc, "measured_peak_mb": peak, "search_seconds": seconds,
          "budget_mb": 512.0, "params": 1000, "flops": 2e6}


REFUSED = {"refused": "dnas: the full supernet needs 4166 MB, budget 512 MB"}


class CompareMethodsTest(absltest.TestCase):

  def test_row_reports_mean_spread_and_seeds(self):
    line = cm.row("rl", [run(0.90), run(0.92)], "-")
    self.assertIn("| rl | yes (2/2 seeds) | 91.00 +- 1.41 (90.00, 92.00) | 240 |", line)

  def test_row_of_a_refusal_gives_its_reason(self):
    line = cm.row("dnas", [REFUSED, REFUSED], "-")
    self.assertIn("no: dnas: the full supernet needs 4166 MB", line)

  def test_row_flags_a_peak_over_budget(self):
    self.assertIn("600 / 512 **over**", cm.row("x", [run(0.9, peak=600)], "-"))

  def test_row_says_when_no_dnas_step_ran(self):
    self.assertIn("| no DNAS step ran / 512 |", cm.row("x", [run(0.9, peak=0)], "-"))

  def test_verdicts(self):
    results = {"radars": [run(0.91, 400), run(0.93, 450)], "dnas": [REFUSED],
               "rl": [run(0.90), run(0.89)], "random": [run(0.95), run(0.96)],
               "short": [run(0.89)]}
    got = cm.verdicts(results, 512, 92.5, "short", 2.5)
    self.assertEqual(got, [
        "- met: radars measured peak 450 MB <= budget 512 MB",
        "- met: dnas refuses or exceeds the budget: " + REFUSED["refused"],
        # Two seeds a side: se 1.118, Welch df 1.47, t(0.975) 6.19: wide.
        "- MISSED: radars 92.00% above rl 89.50% outside seed noise: difference "
        "+2.50, 95% CI -4.42 to +9.42 (Welch; same search time budget)",
        "- MISSED: radars 92.00% above random 95.50% outside seed noise: "
        "difference -3.50, 95% CI -10.42 to +3.42 (Welch; same search time budget)",
        "- MISSED: short 89.00% >= rl 89.50%: rl's accuracy in 1/2.5 of rl's "
        "search time",
        "- met: final radars model 93.00% >= 92.5% on test"])

  def test_rounds_are_judged_against_the_estimate_band(self):
    def rounds(*pairs):
      r = run(0.9, 400)
      r["events"] = [{"kind": "warmup"}] + [
          {"kind": "dnas_round", "peak_mb": p, "estimate_mb": e} for p, e in pairs]
      return r
    inside = cm.verdicts({"radars": [rounds((450, 500), (400, 400))]}, 512, 99)
    self.assertIn("- met: radars DNAS rounds measured 0.90-1.00 of their estimates: "
                  "0.900-1.000 over 2 rounds, 0 above the estimate", inside)
    over = cm.verdicts({"radars": [rounds((450, 500)), rounds((401, 400))]}, 512, 99)
    self.assertIn("- MISSED: radars DNAS rounds measured 0.90-1.00 of their "
                  "estimates: 0.900-1.002 over 2 rounds, 1 above the estimate", over)
    loose = cm.verdicts({"radars": [rounds((449, 500))]}, 512, 99)
    self.assertIn("- MISSED: radars DNAS rounds measured 0.90-1.00 of their "
                  "estimates: 0.898-0.898 over 1 round, 0 above the estimate", loose)

  def test_every_keras_tuner_oracle_gets_a_verdict(self):
    results = {"radars": [run(0.91), run(0.93)]}
    results.update({m: [run(0.80), run(0.81)] for m in cm.KERAS_TUNERS})
    got = cm.verdicts(results, 512, 99.0)
    for method in ("keras_tuner", "keras_tuner_hyperband", "keras_tuner_bayesian"):
      self.assertTrue(any(f"above {method} 80.50%" in line for line in got), got)

  def test_welch_interval(self):
    diff, low, high = cm.welch_ci([93.0, 93.2, 92.8, 93.1], [92.0, 92.3, 91.9, 92.1])
    self.assertAlmostEqual(diff, 0.95)
    self.assertGreater(low, 0.5)                # clearly apart
    self.assertLess(high, 1.4)
    _, low, _ = cm.welch_ci([93.0, 91.0], [92.0, 92.5])
    self.assertLess(low, 0)                      # within the noise

  def test_verdicts_catch_radars_over_budget_and_dnas_under_it(self):
    got = cm.verdicts({"radars": [run(0.9, 700)], "dnas": [run(0.9, 300)]}, 512, 92.5)
    self.assertTrue(got[0].startswith("- MISSED: radars measured peak 700 MB"))
    self.assertTrue(got[1].startswith("- MISSED: dnas refuses or exceeds"))

  def test_a_run_is_named_by_method_time_and_seed_in_the_ledger(self):
    out = self.create_tempdir().full_path
    ledger = cm.kept_results.Ledger(os.path.join(out, "ledger.json"), {"x": 1})
    with flagsaver.flagsaver(out=out), mock.patch.object(
        cm, "start_run", return_value=run(0.9)) as start:
      cm.run_one("genotype:plain_conv", "3", 96, [], ledger)
      cm.run_one("genotype:plain_conv", "3", 96, [], ledger)
    start.assert_called_once_with("genotype:plain_conv", "3", 96, [],
                                  os.path.join(out, "genotype-plain_conv-t96-seed3"))
    self.assertEqual(list(ledger.runs), ["genotype-plain_conv-t96-seed3"])

  def test_without_matplotlib_the_figure_is_skipped_in_one_line(self):
    modules = {k: v for k, v in sys.modules.items() if k != "figures"}
    modules["matplotlib"] = None           # import matplotlib raises ImportError
    with mock.patch.dict(sys.modules, modules, clear=True):
      line = cm.draw_figure({"radars": [run(0.9)]}, tempfile.mkdtemp(), "t")
    self.assertEqual(line, "figure skipped: matplotlib is not installed (bash "
                     "tools/setup.sh --bench); the text above is complete")


if __name__ == "__main__":
  absltest.main()
