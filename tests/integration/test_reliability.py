"""
test_reliability.py - deadlines, connection slots and queue bounds under
the conditions operators and unauthenticated clients create (SPEC 4, 7),
against a real bulwarkd over TLS and, where SQL runs, a real PostgreSQL.

Covered: a request body that never completes is 408 whichever deadline
fires first (body_timeout equal to request_timeout); a client that closes
while its request waits for SQL gives its connection slot back at once
(one worker, max_connections 5, five abandoned requests, then a sixth
client served at once, and a graceful stop that does not wait out
shutdown_timeout); queue_timeout bounds the wait for a statement to start,
also behind statements pipelined on busy connections (pool_size 2,
queue_timeout 1s); libpq notices (RAISE NOTICE and WARNING echoing a
body string with a newline) go through the logger, escaped onto one line
and filtered by logging.level.

Environment: BULWARKD; PostgreSQL server binaries (skipped with the reason
when missing).  Python 3 standard library only.
"""

import json
import time
import unittest

import harness
import pg
from harness import route

CLUSTER = None


def setUpModule():
    global CLUSTER
    harness.require_binary()
    CLUSTER = pg.Cluster.start()


def tearDownModule():
    global CLUSTER
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


class TestBodyDeadline(unittest.TestCase):
    """SPEC 4: a body still incomplete when any deadline fires is the
    client's fault, 408; 504 is only for work bulwarkd did not finish."""

    def test_incomplete_body_is_408_at_either_deadline(self):
        d = harness.Daemon(
            routes=[route("put", "POST", "/put",
                          body={"type": "object"}, sql="SELECT 1 AS x",
                          timeout="1s")],
            workers=1, name="bodydl",
            config={"server": {"limits": {"body_timeout": "2s",
                                          "request_timeout": "2s"}}})
        d.start()
        try:
            conns = [d.connect() for _ in range(6)]
            for c in conns:
                c.send(harness.build_request(
                    "POST", "/put",
                    [("Content-Type", "application/json"),
                     ("Content-Length", "100")]) + b'{"a": ')
            for c in conns:
                r = c.read_final(timeout=10 * harness.SLOW)
                self.assertEqual(r.status, 408, r.body[:200])
                self.assertTrue(r.closes())
                c.close()
        finally:
            d.stop_and_check()


class TestClientGone(unittest.TestCase):
    """A client that closes while its request waits for SQL keeps no
    connection slot: the slot and descriptor are freed at once, the result
    is discarded on arrival."""

    def test_abandoned_requests_free_their_slots(self):
        d = pg.PgDaemon(
            CLUSTER, name="gone", workers=1,
            routes=[route("slow", "GET", "/slow",
                          sql="SELECT pg_sleep(1.5) IS NULL AS slept"),
                    route("ping", "GET", "/ping", sql="SELECT 1 AS one")],
            config={"server": {"limits": {"max_connections": 5},
                               "shutdown_timeout": "10s"},
                    "database": {"pool_size": 8}})
        d.start()
        try:
            d.wait_db_ready("/ping")
            conns = [d.connect() for _ in range(5)]
            for c in conns:
                c.send(harness.build_request("GET", "/slow"))
            time.sleep(0.3)
            for c in conns:
                c.close()
            time.sleep(0.2)
            # The statements still run (SPEC 7), but the slots are free.
            t0 = time.monotonic()
            r = d.request("GET", "/ping", timeout=5.0 * harness.SLOW)
            self.assertEqual(r.status, 200)
            self.assertLess(time.monotonic() - t0, 1.0 * harness.SLOW)
            self.assertIn("client gone; request abandoned",
                          d.stderr_text())
            time.sleep(1.5)
        finally:
            t0 = time.monotonic()
            problems = d.stop()
        self.assertEqual(problems, [])
        self.assertLess(time.monotonic() - t0, 5.0 * harness.SLOW)
        self.assertNotIn("shutdown_timeout reached", d.stderr_text())
        d.cleanup()


class TestQueueBound(unittest.TestCase):
    """SPEC 7: waiting for a connection longer than queue_timeout is 503,
    also when the wait is behind statements pipelined on a busy
    connection; a fast route never waits behind slow ones longer than
    queue_timeout."""

    @classmethod
    def setUpClass(cls):
        cls.d = pg.PgDaemon(
            CLUSTER, name="queue", workers=1,
            routes=[route("half", "GET", "/half",
                          sql="SELECT pg_sleep(0.5) IS NULL AS slept"),
                    route("three", "GET", "/three", timeout="5s",
                          sql="SELECT pg_sleep(3) IS NULL AS slept"),
                    route("one", "GET", "/one", sql="SELECT 1 AS one")],
            config={"database": {"pool_size": 2, "queue_timeout": "1s"}})
        cls.d.start()
        try:
            cls.d.wait_db_ready("/one")
        except BaseException:
            cls.d.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_and_check()

    def send_all(self, path, n):
        conns = [self.d.connect() for _ in range(n)]
        t0 = time.monotonic()
        for c in conns:
            c.send(harness.build_request("GET", path))
        return conns, t0

    def test_fifty_slow_statements_wait_at_most_queue_timeout(self):
        conns, t0 = self.send_all("/half", 50)
        statuses = []
        for c in conns:
            r = c.read_final(timeout=10 * harness.SLOW)
            statuses.append(r.status)
            c.close()
        took = time.monotonic() - t0
        self.assertLessEqual(set(statuses), {200, 503}, statuses)
        self.assertGreaterEqual(statuses.count(200), 2, statuses)
        self.assertGreater(statuses.count(503), 30, statuses)
        # Those that could not start within 1 s were answered then.
        self.assertLess(took, 2.0 * harness.SLOW, statuses)
        time.sleep(1.0)

    def test_fast_route_behind_slow_statements(self):
        slow, _ = self.send_all("/three", 4)
        time.sleep(0.2)
        t0 = time.monotonic()
        with self.d.connect() as c:
            r = c.roundtrip("GET", "/one", timeout=10 * harness.SLOW)
        took = time.monotonic() - t0
        self.assertIn(r.status, (200, 503))
        self.assertLess(took, 1.6 * harness.SLOW)
        for c in slow:
            c.close()
        # The pool serves again once the slow statements are done.
        time.sleep(3.0)
        self.assertEqual(self.d.request("GET", "/one").status, 200)

NOTICE_FN = r"""
CREATE OR REPLACE FUNCTION echo_notice(t text) RETURNS int
LANGUAGE plpgsql AS $f$
BEGIN
    RAISE NOTICE 'echo: %', t;
    RAISE WARNING 'warn: %', t;
    RETURN 1;
END $f$;
"""


class TestDatabaseNotices(unittest.TestCase):
    """libpq notices go through the logger: one escaped line each, at the
    level of their severity, filtered by logging.level."""

    FORGED = "bulwarkd[1] worker 9: error: forged"

    def run_notice(self, level):
        CLUSTER.psql(NOTICE_FN)
        d = pg.PgDaemon(
            CLUSTER, name="notice", workers=1,
            routes=[route("notice", "POST", "/notice",
                          body={"type": "object", "required": ["t"],
                                "properties": {"t": {"type": "string"}}},
                          sql="SELECT echo_notice(:body.t) AS x"),
                    route("one", "GET", "/one", sql="SELECT 1 AS one")],
            config={"logging": {"level": level}})
        d.start()
        try:
            d.wait_db_ready("/one")
            r = d.request("POST", "/notice", pg.json_headers(),
                          json.dumps({"t": "first\n%s\tend" % self.FORGED}))
            self.assertEqual(r.status, 200, r.body)
            time.sleep(0.2)
            return d.stderr_text()
        finally:
            d.stop_and_check()

    @staticmethod
    def messages(text):
        """The diagnostics lines (one JSON object each) as messages."""
        return [json.loads(ln)["message"] for ln in text.splitlines()
                if ln.startswith("{")]

    def test_notice_escaped_on_one_line(self):
        text = self.run_notice("info")
        lines = text.splitlines()
        self.assertFalse([ln for ln in lines if ln.startswith(self.FORGED)],
                         text)
        for ln in lines:
            if "echo: first" in ln:
                json.loads(ln)          # the whole notice is one line
        want = "database NOTICE: echo: first\n%s\tend" % self.FORGED
        self.assertIn(want, self.messages(text), text)
        self.assertTrue([m for m in self.messages(text)
                         if m.startswith("database WARNING: warn: first\n")],
                        text)

    def test_notice_respects_level(self):
        text = self.run_notice("warning")
        self.assertNotIn("echo: first", text)
        self.assertTrue([m for m in self.messages(text)
                         if m.startswith("database WARNING: warn: first\n")],
                        text)

if __name__ == "__main__":
    unittest.main()
