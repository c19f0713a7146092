"""Search spaces and subspaces: presets, sizes, JSON round trips, clear errors."""
import json
import math
import os

from absl.testing import absltest
from absl.testing import parameterized

from radars_tf import search_space as ss
from radars_tf.errors import UserError


class SearchSpaceTest(parameterized.TestCase):

  def test_large_preset_is_large(self):
    space = ss.load("large")
    self.assertGreaterEqual(space.num_layers, 12)
    self.assertTrue(all(len(c) >= 24 for c in space.candidates()))
    self.assertGreater(ss.log10_size(space), 16)
    self.assertAlmostEqual(ss.log10_size(space),
                           space.num_layers * math.log10(len(ss.LARGE_OPS)))

  def test_darts_preset(self):
    space = ss.load("darts")
    self.assertEqual(space.candidates()[0], ss.DARTS_OPS)

  def test_layers_follow_stages(self):
    layers = ss.load("tiny").layers(28)
    self.assertEqual([(l.cin, l.cout, l.stride, l.hw) for l in layers],
                     [(8, 8, 1, 28), (8, 16, 2, 28), (16, 16, 1, 14)])

  @parameterized.parameters("large", "darts", "tiny")
  def test_json_round_trip(self, name):
    space = ss.load(name)
    path = os.path.join(self.create_tempdir().full_path, f"{name}.json")
    with open(path, "w") as f:
      json.dump(space.to_dict(), f)
    self.assertEqual(ss.load(path), space)

  @parameterized.named_parameters(
      ("unknown_op", {"ops": ["conv_k3", "warp_k3"]}, "unknown op 'warp_k3'"),
      ("bad_stride", {"stages": [{"channels": 8, "stride": 3, "layers": 1}]},
       "stride must be 1 or 2"),
      ("bad_channels", {"stages": [{"channels": 0, "stride": 1, "layers": 1}]},
       "channels >= 1"),
      ("missing_key", {"stages": [{"channels": 8}]}, "malformed search space"),
      ("duplicate", {"ops": ["skip", "skip"]}, "lists an op twice"),
      ("no_ops", {"ops": []}, "no candidate ops"))
  def test_bad_space(self, change, message):
    d = ss.load("tiny").to_dict()
    d.update(change)
    with self.assertRaisesRegex(UserError, message):
      ss.SearchSpace.from_dict(d)

  def test_malformed_file(self):
    path = os.path.join(self.create_tempdir().full_path, "bad.json")
    with open(path, "w") as f:
      f.write("{not json")
    with self.assertRaisesRegex(UserError, "cannot read search space"):
      ss.load(path)

  def test_unknown_preset(self):
    with self.assertRaisesRegex(UserError, "unknown search space 'huge'"):
      ss.load("huge")


class SubspaceTest(absltest.TestCase):

  def test_pruning_only_removes(self):
    sub = ss.Subspace.full(ss.load("tiny"))
    smaller = sub.without(1, 2)
    self.assertEqual(smaller.alive[1], (0, 1, 3))
    self.assertEqual(smaller.alive[0], sub.alive[0])
    self.assertAlmostEqual(smaller.log10_size(), math.log10(4 * 3 * 4))
    with self.assertRaises(ValueError):
      smaller.without(1, 2)

  def test_last_candidate_stays(self):
    sub = ss.Subspace(((0,), (1, 2)))
    with self.assertRaisesRegex(ValueError, "no candidate left"):
      sub.without(0, 0)

  def test_json_round_trip(self):
    sub = ss.Subspace(((0, 3), (1,), (2, 3)))
    self.assertEqual(ss.Subspace.from_json(json.loads(json.dumps(sub.to_json()))), sub)

  def test_check_against(self):
    with self.assertRaisesRegex(UserError, "does not belong"):
      ss.Subspace(((0,), (9,), (0,))).check_against(ss.load("tiny"))


if __name__ == "__main__":
  absltest.main()
