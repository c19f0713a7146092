"""tools/kept_results.py: kept benchmark results continue only under their protocol."""
import json
import os
import sys

from absl.testing import absltest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tools"))
import kept_results  # pylint: disable=g-import-not-at-top,wrong-import-position
from radars_tf import provenance  # pylint: disable=g-import-not-at-top,wrong-import-position


class KeptResultsTest(absltest.TestCase):

  def test_new_file_starts_from_the_protocol(self):
    path = os.path.join(self.create_tempdir().full_path, "rows.json")
    self.assertEqual(kept_results.load(path, {"space": "large"}),
                     {"protocol": {"space": "large"}})

  def test_same_protocol_continues_and_another_is_refused(self):
    path = self.create_tempfile(content=json.dumps(
        {"protocol": {"space": "large", "steps": 2}, "rows": {"a": 1}})).full_path
    self.assertEqual(kept_results.load(path, {"space": "large", "steps": 2})["rows"],
                     {"a": 1})
    with self.assertRaises(SystemExit) as e:
      kept_results.load(path, {"space": "large", "steps": 3})
    message = str(e.exception.code)
    self.assertTrue(message.startswith("error: "))
    self.assertNotIn("\n", message)
    with open(path) as f:       # the kept results are left as they were
      self.assertEqual(json.load(f)["rows"], {"a": 1})

  def test_code_digest_follows_the_sources(self):
    package = self.create_tempdir()
    package.create_file("a.py", "x = 1\n")
    package.create_file("sub/b.py", "y = 2\n")
    package.create_file("notes.txt", "not code")
    first = provenance.code_digest(package.full_path)
    self.assertEqual(provenance.code_digest(package.full_path), first)
    with open(os.path.join(package.full_path, "notes.txt"), "w") as f:
      f.write("still not code")
    self.assertEqual(provenance.code_digest(package.full_path), first)
    with open(os.path.join(package.full_path, "sub", "b.py"), "w") as f:
      f.write("y = 3\n")
    self.assertNotEqual(provenance.code_digest(package.full_path), first)

  def test_ledger_keeps_finished_runs_and_takes_them_from_its_file(self):
    path = os.path.join(self.create_tempdir().full_path, "ledger.json")
    done = {"test_accuracy": 0.9, "pruning_history": [1] * 100, "best_curve": [1]}
    refused = {"refused": "dnas: the full supernet needs 4166 MB, budget 512 MB"}
    crashed = {"refused": "exit -9: Killed"}
    ledger = kept_results.Ledger(path, {"space": "large"})
    self.assertEqual(ledger.run("a", lambda: done), done)
    self.assertEqual(ledger.run("b", lambda: crashed), crashed)
    self.assertEqual(ledger.run("c", lambda: refused), refused)
    # A later sitting (a new Ledger on the file) does not run a kept run again;
    # the crash was not kept, so it runs again.
    later = kept_results.Ledger(path, {"space": "large"})
    self.assertEqual(later.run("a", lambda: self.fail("ran again")),
                     {"test_accuracy": 0.9, "best_curve": [1]})  # no pruning history
    self.assertEqual(later.run("c", lambda: self.fail("ran again")), refused)
    self.assertEqual(later.run("b", lambda: done), done)
    with open(path) as f:
      self.assertEqual(sorted(json.load(f)["runs"]), ["a", "b", "c"])
    with self.assertRaises(SystemExit):         # another protocol: refused
      kept_results.Ledger(path, {"space": "xlarge"})

  def test_ledger_refuses_a_result_of_other_code(self):
    path = os.path.join(self.create_tempdir().full_path, "ledger.json")
    ledger = kept_results.Ledger(path, {"space": "large"})
    ours = {"test_accuracy": 0.9, "versions": {"radars_tf": provenance.code_digest()}}
    self.assertEqual(ledger.run("a", lambda: ours), ours)
    with self.assertRaises(SystemExit) as e:
      ledger.run("b", lambda: {"test_accuracy": 0.8,
                               "versions": {"radars_tf": "0123456789abcdef"}})
    message = str(e.exception.code)
    self.assertRegex(message, r"^error: run b was made by other radars_tf code "
                              r"\(0123456789abcdef, this code is [0-9a-f]{16}\)")
    self.assertNotIn("\n", message)
    with open(path) as f:
      self.assertEqual(sorted(json.load(f)["runs"]), ["a"])


if __name__ == "__main__":
  absltest.main()
