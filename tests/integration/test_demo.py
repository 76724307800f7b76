"""
test_demo.py - the curl examples that scripts/demo (make demo) prints work
when pasted into a shell, against the demo it runs.

The demo runs in the background on a free port; once it has printed its
examples, the printed lines that set TOKEN, NOTE and ID and the examples
on /notes/${ID} are run by bash, in order, as a reader would paste them:
the note the printed POST created is read (200), edited (200), deleted
(204), then gone (404).  The demo is stopped with SIGTERM and must remove
its directory.

Environment: BULWARKD; PostgreSQL server binaries, psql, openssl and curl
(skipped with the reason when missing).  Python 3 standard library only.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
import pg

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class TestDemoExamples(unittest.TestCase):

    def setUp(self):
        harness.require_binary()
        for tool in ("curl", "openssl", "psql"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is not installed" % tool)
        if pg._bindir() is None:
            raise unittest.SkipTest("PostgreSQL is not installed")
        self.out = tempfile.TemporaryFile()
        self.addCleanup(self.out.close)
        env = harness.child_env(DEMO_PORT=str(harness.free_port()))
        self.proc = subprocess.Popen(
            [os.path.join(TOP, "scripts", "demo"), harness.BULWARKD],
            stdout=self.out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        self.addCleanup(self.stop)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def text(self):
        self.out.seek(0)
        return self.out.read().decode("utf-8", "replace")

    def wait_examples(self):
        deadline = time.monotonic() + 90 * harness.SLOW
        while "Without a token" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the demo printed no examples:\n%s" %
                                     self.text()[-3000:])
            time.sleep(0.3)
        return self.text()

    def test_printed_examples_work(self):
        text = self.wait_examples()
        lines = [l[2:] for l in text.splitlines() if l.startswith("$ ")]
        setters = [l for l in lines if re.match(r"(TOKEN|NOTE|ID)=", l)]
        self.assertEqual(len(setters), 3, lines)
        on_note = [l for l in lines if "/notes/${ID}" in l]
        self.assertEqual(len(on_note), 4, lines)
        self.assertFalse([l for l in lines if re.search(r"/notes/\d", l)],
                         lines)
        script = "\n".join(setters + ['echo "@@ID=$ID"'] +
                           [l + '\necho "@@"' for l in on_note])
        p = subprocess.run(["bash", "-c", script], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, p.stderr)
        m = re.search(r"@@ID=(\d+)\n", out)
        self.assertIsNotNone(m, out)
        note_id = int(m.group(1))
        parts = out[m.end():].split("@@\n")
        got, edited, deleted, gone = parts[:4]
        doc = json.loads(got)
        self.assertEqual((doc["id"], doc["title"], doc["body"]),
                         (note_id, "Hello", "from curl"))
        self.assertEqual(json.loads(edited)["body"], "edited")
        self.assertRegex(deleted, r"^HTTP/1.1 204 ")
        self.assertRegex(gone, r"^HTTP/1.1 404 ")
        self.stop()
        self.assertIn("bulwarkd stopped", self.text())
        m = re.search(r"(/tmp/bulwark-demo\.\w+)", text)
        self.assertIsNotNone(m)
        self.assertFalse(os.path.exists(m.group(1)))


if __name__ == "__main__":
    unittest.main()
