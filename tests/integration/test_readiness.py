"""
test_readiness.py - readiness and the reload hand-over (SPEC 12
Readiness, SPEC 11) against a real bulwarkd with authentication and a
real PostgreSQL.

Covered: READY=1 (on a NOTIFY_SOCKET made by the test) only once every
worker can serve every route: right after it, a login and its token sent
over many fresh connections (reaching every worker) get no 503; /readyz
is then 200 and lists every worker with its pool and revocation state,
/healthz 200.  With the database down at start-up: READY=1 after
database.connect_timeout, /readyz 503 naming the pool and revocation
state of each worker, /healthz still 200, 503 on a database route; once
the database is up, /readyz 200 and logins and tokens served.  -d
returns only once every worker is ready.  A SIGHUP during a reload is
queued.  Reloads under load: wrk on an authenticated route over 32
keep-alive connections while SIGHUP arrives 20 times, every 500 ms, half
of them with a changed configuration: no non-2xx response, no socket
error, and RELOADING=1 then READY=1 for each reload on the notify socket.
Requests that arrive before a worker is ready wait instead of failing: a
worker killed with kill -9 while clients send authenticated requests over
many fresh connections is replaced without a single 503 (requests that
reach the new worker wait for its pool and revocation state); with the
database down while the pools start, a database route, a login and a
token each get 503 after database.queue_timeout, not at once; and a
request parked for the revocation state whose client closes gives its
connection slot back at once (one worker, max_connections 5).

Environment: BULWARKD; PostgreSQL server binaries and psql; wrk for the
reload test (skipped with the reason when missing).  Python 3 standard
library only.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
import pg
from harness import bearer

CLUSTER = None
KEYFILE = None
KEYDIR = None
PASSWORD = "correct horse battery staple 42"
WORKERS = 2
CONNECT_TIMEOUT = "1s"


def auth_config():
    return pg.auth_config(KEYFILE)


def routes(extra=False):
    r = [{"name": "who", "method": "GET", "path": "/reader",
          "roles": ["reader"], "sql": "SELECT :user.name AS name"}]
    if extra:
        r.append({"name": "extra", "method": "GET", "path": "/extra",
                  "roles": ["reader"], "sql": "SELECT 1 AS one"})
    return r


class ReadyDaemon(pg.PgDaemon):
    """A PgDaemon with an admin listener and a notify socket of its own."""

    def __init__(self, connect_timeout=CONNECT_TIMEOUT, workers=WORKERS,
                 extra=None, **kw):
        self.admin_port = harness.free_port()
        self.connect_timeout = connect_timeout
        self.extra = extra or {}
        pg.PgDaemon.__init__(self, CLUSTER, routes=routes(),
                             workers=workers, **kw)
        self.configure()
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        os.chmod(self.notify_path, 0o666)
        self.notices = []

    def configure(self, extra=False):
        self.write_config(harness.merge({
            "auth": auth_config(), "roles": {"reader": {}},
            "admin": {"listen": "127.0.0.1:%d" % self.admin_port},
            "database": {"connect_timeout": self.connect_timeout},
        }, self.extra), routes(extra))

    def start(self, wait=False, timeout=15.0):
        self._err = open(self.stderr_path, "ab")
        self._out = open(self.stdout_path, "ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [harness.BULWARKD, "-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
            env=harness.child_env(NOTIFY_SOCKET=self.notify_path),
            close_fds=True)
        return self

    def wait_notice(self, what, timeout=20.0):
        """Until a datagram holding the line `what` arrives; returns the
        time it arrived (monotonic)."""
        deadline = time.monotonic() + timeout * harness.SLOW
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s on the notify socket (got %r):"
                                     "\n%s" % (what, self.notices,
                                               self.stderr_tail()))
            self.notify.settimeout(left)
            try:
                data = self.notify.recv(4096).decode("utf-8", "replace")
            except socket.timeout:
                continue
            self.notices.append(data)
            if what in data.splitlines():
                return time.monotonic()

    def admin_get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.admin_port,
                                       timeout=5)
        try:
            c.request("GET", path, headers={"Host": "localhost"})
            r = c.getresponse()
            return r.status, json.loads(r.read().decode())
        finally:
            c.close()


def setUpModule():
    global CLUSTER, KEYFILE, KEYDIR
    harness.require_binary()
    CLUSTER = pg.Cluster.start()
    try:
        KEYFILE, KEYDIR = pg.signing_key(CLUSTER.parent)
        d = ReadyDaemon(name="ready-init")
        try:
            p = subprocess.run([harness.BULWARKD, "-c", d.conf_path,
                                "--init-db"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env=harness.child_env(), timeout=60)
            if p.returncode != 0:
                raise AssertionError("--init-db: %s" % p.stderr)
            pg.add_user(d, "rita", "reader", PASSWORD, exists_ok=True)
        finally:
            d.notify.close()
            d.cleanup()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


class ReadinessCase(unittest.TestCase):
    # A reachable database on a loaded machine (sanitizers, parallel
    # builds) may take over 1 s to connect: past connect_timeout a worker
    # serves anyway, which is what test_database_down_at_start checks.
    connect_timeout = "10s"

    def setUp(self):
        self.daemon = ReadyDaemon(name=self._testMethodName[:20],
                                  connect_timeout=self.connect_timeout)

    def tearDown(self):
        try:
            self.daemon.stop_and_check()
        finally:
            self.daemon.notify.close()

    def token_everywhere(self, tok, n=24):
        """GET /reader with tok over n fresh connections; returns the
        statuses and the set of workers that answered."""
        statuses, workers = [], set()
        for _ in range(n):
            with self.daemon.connect() as c:
                statuses.append(c.roundtrip("GET", "/reader",
                                            bearer(tok)).status)
                workers.add(self.daemon.worker_of(c))
        return statuses, workers

    def assert_ready_table(self, body, ready):
        self.assertEqual(body["ready"], ready, body)
        self.assertEqual([w["worker"] for w in body["workers"]],
                         list(range(WORKERS)), body)
        for w in body["workers"]:
            self.assertEqual((w["up"], w["ready"], w["pool"],
                              w["revocation"]),
                             (True, ready, ready, ready), body)


class TestStartUp(ReadinessCase):

    def test_ready_means_every_worker_serves(self):
        self.daemon.start()
        self.daemon.wait_notice("READY=1")
        # No waiting beyond READY=1: a login, then its token everywhere.
        r = pg.login(self.daemon, "rita", PASSWORD)
        self.assertEqual(r.status, 200, r)
        statuses, workers = self.token_everywhere(r.json()["access_token"])
        self.assertEqual(statuses, [200] * len(statuses))
        if None not in workers:
            self.assertEqual(len(workers), WORKERS,
                             "the connections did not reach every worker")
        status, body = self.daemon.admin_get("/readyz")
        self.assertEqual(status, 200, body)
        self.assert_ready_table(body, True)
        status, body = self.daemon.admin_get("/healthz")
        self.assertEqual((status, body["up"]), (200, WORKERS))
        self.assertRegex(self.daemon.stderr_text(),
                         r"serving with 2 workers \(generation 1\)\"")


class TestDatabaseDown(ReadinessCase):
    connect_timeout = CONNECT_TIMEOUT

    def test_database_down_at_start(self):
        # fast, not immediate: the users just added must survive.
        CLUSTER.stop_server(mode="fast")
        try:
            self.daemon.start()
            self.daemon.wait_notice("READY=1")
            waited = time.monotonic() - self.daemon.started_at
            self.assertGreaterEqual(waited, 1.0, "READY=1 before "
                                    "database.connect_timeout")
            self.assertIn("not ready: the database cannot be reached",
                          self.daemon.stderr_text())
            status, body = self.daemon.admin_get("/readyz")
            self.assertEqual(status, 503, body)
            self.assertEqual(body["status"], 503)
            self.assert_ready_table(body, False)
            status, body = self.daemon.admin_get("/healthz")
            self.assertEqual(status, 200, "liveness must not follow "
                             "readiness")
            r = self.daemon.request("GET", "/reader",
                                    headers=bearer("x.y.z"))
            self.assertEqual(r.status, 503)
            self.assertEqual(
                pg.login(self.daemon, "rita", PASSWORD).status, 503)
        finally:
            CLUSTER.start_server()
        deadline = time.monotonic() + 20 * harness.SLOW
        while self.daemon.admin_get("/readyz")[0] != 200:
            self.assertLess(time.monotonic(), deadline,
                            "/readyz never passed once the database "
                            "came up:\n" + self.daemon.stderr_tail())
            time.sleep(0.1)
        self.assert_ready_table(self.daemon.admin_get("/readyz")[1], True)
        r = pg.login(self.daemon, "rita", PASSWORD)
        self.assertEqual(r.status, 200, r)
        statuses, _ = self.token_everywhere(r.json()["access_token"], 12)
        self.assertEqual(statuses, [200] * 12)


class TestWaitUntilReady(ReadinessCase):
    """SPEC 12: a request that needs the pool or the revocation state
    before a worker has them waits (queue_timeout), then gets 503."""

    def worker_pids(self):
        """The live workers' pids (the admin listener is a child too)."""
        found = re.findall(r"worker \d+ started \(pid (\d+)",
                           self.daemon.stderr_text())
        return [int(p) for p in found
                if harness.proc_state(int(p)) not in (None, "Z")]

    def replace_daemon(self, **kw):
        self.daemon.notify.close()
        self.daemon.cleanup()
        self.daemon = ReadyDaemon(**kw)

    def test_replaced_worker_serves_without_503(self):
        # A generous queue_timeout: a loaded machine may stall a statement
        # for seconds, which is not what this test is about.
        self.replace_daemon(name="replaced", connect_timeout="10s",
                            extra={"database": {"queue_timeout": "20s"}})
        self.daemon.start()
        self.daemon.wait_notice("READY=1")
        r = pg.login(self.daemon, "rita", PASSWORD)
        self.assertEqual(r.status, 200, r)
        tok = r.json()["access_token"]
        pids = self.worker_pids()
        self.assertEqual(len(pids), WORKERS, pids)
        victim = pids[0]
        statuses, errors, by_worker = [], [], {}
        stop = threading.Event()
        lock = threading.Lock()

        def client():
            while not stop.is_set():
                try:
                    with self.daemon.connect() as c:
                        st = c.roundtrip("GET", "/reader", bearer(tok),
                                         timeout=10 * harness.SLOW).status
                        w = self.daemon.worker_of(c)
                except Exception as e:      # noqa: BLE001 - collected
                    with lock:
                        errors.append(repr(e))
                    continue
                with lock:
                    statuses.append(st)
                    by_worker[w] = by_worker.get(w, 0) + 1

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 20 * harness.SLOW
            new = set()
            while time.monotonic() < deadline:
                new = set(self.worker_pids()) - set(pids)
                with lock:
                    served = sum(by_worker.get(w, 0) for w in new)
                if new and served >= 20:
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertTrue(new, "no replacement worker")
        self.assertEqual(set(statuses), {200},
                         "statuses %r, errors %r:\n%s" %
                         ({s: statuses.count(s) for s in set(statuses)},
                          errors, self.daemon.stderr_tail()))
        # Only requests in flight on the killed worker may fail.
        self.assertLessEqual(len(errors), len(threads), errors)
        if None not in by_worker:
            self.assertGreaterEqual(sum(by_worker.get(w, 0) for w in new),
                                    20, by_worker)
        self.assertNotIn("not loaded", self.daemon.stderr_text())

    def test_database_down_waits_queue_timeout(self):
        # A long start (connect_timeout) with the database down: requests
        # wait queue_timeout for the pool or the revocation state.
        self.replace_daemon(name="dbdownwait", connect_timeout="20s",
                            extra={"database": {"queue_timeout": "1s"}})
        CLUSTER.stop_server(mode="fast")
        try:
            self.daemon.start()
            harness.Daemon.wait_ready(self.daemon, 10 * harness.SLOW)
            for what in ("token", "login", "token"):
                t0 = time.monotonic()
                if what == "token":
                    r = self.daemon.request("GET", "/reader",
                                            headers=bearer("x.y.z"),
                                            timeout=10 * harness.SLOW)
                else:
                    r = pg.login(self.daemon, "rita", PASSWORD)
                took = time.monotonic() - t0
                self.assertEqual(r.status, 503, what)
                self.assertGreaterEqual(took, 0.9, "%s: 503 at once" % what)
                self.assertLess(took, 5.0 * harness.SLOW, what)
                self.assertLess(time.monotonic() - self.daemon.started_at,
                                15.0, "the pools' start is over")
            self.assertIn("revocation state not loaded within "
                          "queue_timeout", self.daemon.stderr_text())
        finally:
            CLUSTER.start_server()

    def test_parked_client_gone_frees_slot(self):
        self.replace_daemon(name="parkgone", connect_timeout="20s",
                            workers=1, extra={
                                "database": {"queue_timeout": "4s"},
                                "server": {
                                    "limits": {"max_connections": 5},
                                    "shutdown_timeout": "10s"}})
        CLUSTER.stop_server(mode="fast")
        try:
            self.daemon.start()
            harness.Daemon.wait_ready(self.daemon, 10 * harness.SLOW,
                                      probes=2)
            time.sleep(0.3)
            conns = [self.daemon.connect() for _ in range(5)]
            for c in conns:
                c.send(harness.build_request("GET", "/reader",
                                             bearer("x.y.z")))
            time.sleep(0.3)
            for c in conns:
                c.close()
            time.sleep(0.3)
            # Long before their queue_timeout: the slots are free.
            t0 = time.monotonic()
            r = self.daemon.request("GET", "/reader",
                                    headers=bearer("x.y.z"),
                                    timeout=10 * harness.SLOW)
            self.assertEqual(r.status, 503)
            self.assertGreaterEqual(time.monotonic() - t0, 3.5)
            self.assertGreaterEqual(self.daemon.stderr_text().count(
                "client gone; request abandoned"), 5)
        finally:
            CLUSTER.start_server()
            t0 = time.monotonic()
        self.daemon.stop_and_check()
        self.assertLess(time.monotonic() - t0, 8.0 * harness.SLOW)
        self.assertNotIn("shutdown_timeout reached",
                         self.daemon.stderr_text())


class TestDetach(ReadinessCase):

    def test_detach_returns_when_ready(self):
        """-d: the command returns 0 only once every worker is ready."""
        with open(self.daemon.stderr_path, "ab") as err:
            p = subprocess.run([harness.BULWARKD, "-d", "-c",
                                self.daemon.conf_path],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=err,
                               env=harness.child_env(), timeout=60)
        self.assertEqual(p.returncode, 0, self.daemon.stderr_tail())
        with open(self.daemon.pid_file) as fp:
            pid = int(fp.read())
        try:
            status, body = self.daemon.admin_get("/readyz")
            self.assertEqual(status, 200, body)
            self.assert_ready_table(body, True)
            r = pg.login(self.daemon, "rita", PASSWORD)
            self.assertEqual(r.status, 200, r)
        finally:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while (harness.proc_state(pid) not in (None, "Z") and
                   time.monotonic() < deadline):
                time.sleep(0.05)
        self.assertIn(harness.proc_state(pid), (None, "Z"))


class TestReload(ReadinessCase):

    def test_sighup_queued_until_taken_over(self):
        self.daemon.start()
        self.daemon.wait_notice("READY=1")
        before = self.daemon.stderr_size()
        # The second arrives while the master is still building the first
        # generation (loading, checking the statements): it is queued.
        self.daemon.signal(signal.SIGHUP)
        time.sleep(0.01)
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_notice("READY=1")
        self.daemon.wait_notice("READY=1")
        text = self.daemon.stderr_text()[before:]
        self.assertIn("reload queued", text)
        self.assertRegex(text, r"serving with 2 workers \(generation 3\)")
        self.assertNotRegex(text, r"generation 4")

    def test_reloads_under_load(self):
        wrk = shutil.which("wrk")
        if wrk is None:
            self.skipTest("wrk is not installed (scripts/install-deps)")
        self.daemon.start()
        self.daemon.wait_notice("READY=1")
        r = pg.login(self.daemon, "rita", PASSWORD)
        self.assertEqual(r.status, 200, r)
        tok = r.json()["access_token"]
        duration = 14
        out = {}

        def load():
            p = subprocess.run(
                [wrk, "-t2", "-c32", "-d%ds" % duration, "--latency",
                 "-H", "Authorization: Bearer " + tok,
                 "https://127.0.0.1:%d/reader" % self.daemon.port],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=duration + 60)
            out["rc"] = p.returncode
            out["text"] = p.stdout.decode("utf-8", "replace")

        notices = []
        done = threading.Event()

        def collect():
            self.daemon.notify.settimeout(0.2)
            while not done.is_set():
                try:
                    notices.append(self.daemon.notify.recv(4096).decode())
                except socket.timeout:
                    pass

        th = threading.Thread(target=load)
        th.start()
        collector = threading.Thread(target=collect)
        collector.start()
        time.sleep(1.5)
        for i in range(20):
            if i % 2:
                self.daemon.configure(extra=(i // 2) % 2 == 0)
            self.daemon.signal(signal.SIGHUP)
            time.sleep(0.5)
        th.join(duration + 90)

        def states():
            return [line for n in list(notices) for line in n.splitlines()
                    if line in ("READY=1", "RELOADING=1")]

        # A reload queued last may still be under way: let it take over.
        deadline = time.monotonic() + 30 * harness.SLOW
        while (states().count("RELOADING=1") != states().count("READY=1")
               and time.monotonic() < deadline):
            time.sleep(0.1)
        done.set()
        collector.join(10)
        text = out.get("text", "")
        self.assertEqual(out.get("rc"), 0, text)
        m = re.search(r"(\d+) requests in", text)
        self.assertIsNotNone(m, text)
        self.assertGreater(int(m.group(1)), 1000, text)
        self.assertNotIn("Non-2xx", text)
        self.assertNotIn("Socket errors", text)
        log = self.daemon.stderr_text()
        gens = [int(g) for g in
                re.findall(r"serving with 2 workers \(generation (\d+)\)",
                           log)]
        self.assertGreaterEqual(max(gens), 5, "too few reloads took over")
        self.assertNotIn("not loaded yet", log)
        # Every reload: RELOADING=1, then READY=1 once it took over.
        got = states()
        self.assertEqual(got.count("RELOADING=1"), max(gens) - 1, got)
        self.assertEqual(got, ["RELOADING=1", "READY=1"] * (max(gens) - 1),
                         "RELOADING=1 and READY=1 must alternate")


if __name__ == "__main__":
    unittest.main()
