"""
test_ratelimit.py - rate limits are counted per instance, not per worker
(SPEC 4, 5 and 13; bulwarkd(8)): the workers of one instance draw from one
shared table of buckets.

Two workers, `rate: 5/m, burst: 5` by address: 20 requests, each on a new
connection (so that both workers serve some), give exactly 5 x 200 and
15 x 429 with Retry-After; the same for /auth/login under
auth.endpoint_rate_limit (the brute-force guard), with a real user and
password.  A reload keeps the buckets (bulwarkd(8)): after SIGHUP the
spent budget stays spent, unless the limit changed, which starts full and
is shared by the new workers too.

Readiness probes come from another address (X-Forwarded-For from the
trusted 127.0.0.1), so they do not spend the budget under test.

Environment: BULWARKD; PostgreSQL server binaries and psql (skipped with
the reason when missing).  Python 3 standard library only.
"""

import json
import os
import secrets
import signal
import subprocess
import time
import unittest

import harness
import pg

CLUSTER = None
PASSWORD = "correct horse battery " + secrets.token_hex(8)
LIMIT = {"by": "ip", "rate": "5/m", "burst": 5}
PROBE = [("X-Forwarded-For", "192.0.2.1")]
CLIENT = [("X-Forwarded-For", "198.51.100.7")]


def setUpModule():
    global CLUSTER
    harness.require_binary()
    CLUSTER = pg.Cluster.start()


def tearDownModule():
    global CLUSTER
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


def routes():
    return [
        harness.route("limited", "GET", "/limited", sql="SELECT 1 AS one",
                      rate_limit=LIMIT),
        harness.route("ready", "GET", "/ready", sql="SELECT 1 AS one"),
    ]


class Base(unittest.TestCase):
    def daemon(self, config):
        d = pg.PgDaemon(CLUSTER, routes=routes(), workers=2,
                        name="rl-" + self.id().rsplit(".", 1)[-1][:20])
        self.addCleanup(d.cleanup)
        config = harness.merge({"server": {"trusted_proxies":
                                           ["127.0.0.1"]}}, config)
        d.write_config(config, routes())
        return d

    def start(self, config):
        d = self.daemon(config)
        d.start()
        self.addCleanup(d.stop_and_check, self)
        return d

    def fresh(self, d, method, path, headers, body=None):
        """One request on a new connection: (status, Retry-After, worker
        pid)."""
        with d.connect() as c:
            pid = d.worker_of(c)
            r = c.roundtrip(method, path, headers, body)
            return r.status, r.header("retry-after"), pid

    def burst_of_20(self, d, method, path, headers, body=None, admitted=5):
        res = [self.fresh(d, method, path, headers, body)
               for _ in range(20)]
        statuses = [s for s, _, _ in res]
        self.assertEqual(statuses.count(200), admitted, statuses)
        self.assertEqual(statuses.count(429), 20 - admitted, statuses)
        for s, ra, _ in res:
            if s == 429:
                # 5 per minute: the next token within 12 s.
                self.assertIn(int(ra), range(1, 13))
        workers = {p for _, _, p in res if p is not None}
        self.assertEqual(len(workers), 2,
                         "20 new connections were all served by one "
                         "worker: %r" % res)
        return res


class TestRouteLimit(Base):
    def wait_ready(self, d):
        deadline = time.monotonic() + 15 * harness.SLOW
        ok = 0
        while ok < 8:
            s, _, _ = self.fresh(d, "GET", "/limited", PROBE)
            ok = ok + 1 if s in (200, 429) else 0
            if time.monotonic() > deadline:
                raise AssertionError("not ready:\n%s" % d.stderr_tail())
            if ok == 0:
                time.sleep(0.1)
        d.wait_db_ready("/ready", want=200)

    def test_per_instance(self):
        d = self.start({})
        self.wait_ready(d)
        self.burst_of_20(d, "GET", "/limited", CLIENT)
        # Another address has its own bucket.
        self.assertEqual(self.fresh(d, "GET", "/limited",
                                    [("X-Forwarded-For",
                                      "198.51.100.8")])[0], 200)

    def reload(self, d, routes_now):
        old = set(d.worker_pids())
        d.write_config(harness.merge({"server": {"trusted_proxies":
                                                 ["127.0.0.1"]}}, {}),
                       routes_now)
        d.signal(signal.SIGHUP)
        deadline = time.monotonic() + 15 * harness.SLOW
        while set(d.worker_pids()) & old or len(d.worker_pids()) != 2:
            if time.monotonic() > deadline:
                raise AssertionError("no new generation:\n%s" %
                                     d.stderr_tail())
            time.sleep(0.1)
        self.wait_ready(d)

    def test_reload_keeps_buckets(self):
        """A reload keeps the buckets of unchanged limits; a changed
        limit starts full."""
        d = self.start({})
        self.wait_ready(d)
        self.burst_of_20(d, "GET", "/limited", CLIENT)
        self.reload(d, routes())
        res = [self.fresh(d, "GET", "/limited", CLIENT) for _ in range(6)]
        self.assertEqual([s for s, _, _ in res], [429] * 6, res)
        changed = routes()
        changed[0]["rate_limit"] = dict(LIMIT, burst=4)
        self.reload(d, changed)
        self.burst_of_20(d, "GET", "/limited", CLIENT, admitted=4)


class TestLoginLimit(Base):
    def test_login_per_instance(self):
        d = self.daemon({})
        keyfile = os.path.join(d.dir, "jwt.pem")
        harness.gen_key("ed25519", keyfile)
        auth = {"auth": {
            "issuer": "https://bulwark.test", "audience": "bulwark.test",
            "signing_key_file": keyfile,
            "endpoint_rate_limit": LIMIT,
            "password": {"min_length": 12,
                         "argon2": {"memory": "19MiB", "iterations": 2,
                                    "parallelism": 1}}},
            "roles": {"reader": {}}}
        d.write_config(harness.merge(auth, {"server": {
            "trusted_proxies": ["127.0.0.1"]}}), routes())
        for args, stdin in ((["--init-db"], b""),
                            (["--add-user", "alice", "--roles", "reader"],
                             (PASSWORD + "\n").encode())):
            p = subprocess.run([harness.BULWARKD, "-c", d.conf_path] + args,
                               input=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env=harness.child_env(), timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        d.start()
        self.addCleanup(d.stop_and_check, self)
        body = json.dumps({"username": "alice",
                           "password": PASSWORD}).encode()
        headers = pg.json_headers(CLIENT)
        deadline = time.monotonic() + 20 * harness.SLOW
        ok = 0
        while ok < 8:
            s, _, _ = self.fresh(d, "POST", "/auth/login",
                                 pg.json_headers(PROBE), body)
            ok = ok + 1 if s in (200, 429) else 0
            if time.monotonic() > deadline:
                raise AssertionError("logins not served:\n%s" %
                                     d.stderr_tail())
            if ok == 0:
                time.sleep(0.1)
        self.burst_of_20(d, "POST", "/auth/login", headers, body)


if __name__ == "__main__":
    unittest.main()
