"""The shares of a search time budget: stage deadlines, DNAS's progress, and the
temperature that follows it."""
import math

from absl.testing import absltest
from absl.testing import parameterized

from radars_tf import dnas_trainer
from radars_tf.time_schedule import TimeSchedule


class TimeScheduleTest(parameterized.TestCase):

  def test_deadlines_follow_the_shares(self):
    s = TimeSchedule.for_budget(240, 0.25, 0.35)
    self.assertEqual((s.warmup_end, s.rl_end, s.end), (60, 144, 240))
    self.assertFalse(s.warmup_over(59.9))
    self.assertTrue(s.warmup_over(60))
    self.assertFalse(s.rl_over(143.9))
    self.assertTrue(s.rl_over(144))

  @parameterized.parameters((0, 0.0), (144, 0.0), (192, 0.5), (240, 1.0), (300, 1.0))
  def test_dnas_progress_runs_from_the_rl_deadline_to_the_end(self, t, share):
    self.assertAlmostEqual(TimeSchedule.for_budget(240, 0.25, 0.35).dnas_progress(t),
                           share)

  def test_no_time_budget_no_deadline(self):
    s = TimeSchedule.for_budget(0, 0.25, 0.35)
    self.assertTrue(math.isinf(s.rl_end))
    self.assertFalse(s.warmup_over(1e9) or s.rl_over(1e9))
    self.assertEqual(s.dnas_progress(1e9), 0.0)

  def test_temperature_follows_the_time_when_it_is_ahead_of_the_steps(self):
    hp = dnas_trainer.DnasHParams(tau_start=5.0, tau_end=0.5)
    self.assertAlmostEqual(dnas_trainer.temperature(hp, 10, 100, progress=1.0), 0.5)
    self.assertAlmostEqual(dnas_trainer.temperature(hp, 50, 100, progress=0.1),
                           dnas_trainer.temperature(hp, 50, 100))


if __name__ == "__main__":
  absltest.main()
