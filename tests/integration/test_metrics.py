"""
test_metrics.py - /metrics on the admin listener (SPEC 12) and two
instances on one database (SPEC 13), against real bulwarkd processes with
authentication and a real PostgreSQL.

Covered: after a known mix of requests (200, 404, 401 without and with a
bad token, 403, 429 of a rate limit, a refused login, a failed TLS
handshake) the counters of /metrics have moved by exactly what was sent,
route names are the only route labels (unmatched requests are route=""),
no token, user name or path appears anywhere in the exposition, the
histogram is consistent, the pool gauges name every worker, and
`promtool check metrics` accepts the exposition.  Two instances A and B
share the database: a lockout is counted across both (failures on A, the
locking failure on B, then A refuses the login as locked), and each
instance's /metrics counts only its own requests.

promtool comes from the Debian package prometheus, which is large: when
promtool is not on PATH the test extracts it from the package fetched
with `apt-get download` (no installation, no service started) into a
cache directory; when that fails the promtool check is skipped with the
reason.

Environment: BULWARKD; PostgreSQL server binaries and psql.  Python 3
standard library only.
"""

import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness
import pg

CLUSTER = None
KEYFILE = None
A = None
B = None
PASSWORD = "correct horse battery staple 42"
MAX_FAILURES = 3
PROMTOOL_CACHE = os.path.join(tempfile.gettempdir(), "bw-promtool")

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')
LABEL = re.compile(r'([a-z_]+)="([^"]*)"')


def auth_config():
    return pg.auth_config(KEYFILE, lockout={
        "max_failures": MAX_FAILURES, "window": "10m", "duration": "1m"})


def routes():
    return [
        {"name": "ok", "method": "GET", "path": "/ok", "roles": ["public"],
         "sql": "SELECT 1 AS one"},
        {"name": "who", "method": "GET", "path": "/who/{id}",
         "roles": ["reader"], "params": {"id": {"type": "integer"}},
         "sql": "SELECT :user.name AS name, :path.id::int AS id"},
        {"name": "boss", "method": "GET", "path": "/boss",
         "roles": ["admin"], "sql": "SELECT 1 AS one"},
        {"name": "lim", "method": "GET", "path": "/lim", "roles": ["public"],
         "sql": "SELECT 1 AS one",
         "rate_limit": {"by": "ip", "rate": "1/m", "burst": 2}},
    ]


class MetricsDaemon(pg.PgDaemon):
    def __init__(self, name):
        self.admin_port = harness.free_port()
        pg.PgDaemon.__init__(self, CLUSTER, routes=routes(), workers=2,
                             name=name)
        self.write_config({
            "auth": auth_config(),
            "roles": {"admin": {"inherits": ["reader"]}, "reader": {}},
            "admin": {"listen": "127.0.0.1:%d" % self.admin_port},
        }, routes())

    def scrape_text(self):
        c = http.client.HTTPConnection("127.0.0.1", self.admin_port,
                                       timeout=5)
        try:
            c.request("GET", "/metrics", headers={"Host": "localhost"})
            r = c.getresponse()
            body = r.read().decode("utf-8")
            if r.status != 200:
                raise AssertionError("/metrics: %d %s" % (r.status, body))
            if r.getheader("Content-Type") != \
                    "text/plain; version=0.0.4; charset=utf-8":
                raise AssertionError("/metrics content type %r" %
                                     r.getheader("Content-Type"))
            return body
        finally:
            c.close()

    def scrape(self):
        return parse(self.scrape_text())


def parse(text):
    """{(name, frozenset(labels)): float}; every line must be a comment or
    a sample."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise AssertionError("not a sample line: %r" % line)
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        if key in out:
            raise AssertionError("repeated series: %r" % line)
        out[key] = float(m.group(3))
    return out


def val(snap, name, **labels):
    return snap.get((name, frozenset(labels.items())), 0.0)


def promtool():
    """The path of promtool, or None with the reason."""
    p = shutil.which("promtool")
    if p:
        return p, None
    cached = os.path.join(PROMTOOL_CACHE, "x", "usr", "bin", "promtool")
    if os.access(cached, os.X_OK):
        return cached, None
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return None, "promtool missing and no apt-get/dpkg-deb to fetch it"
    os.makedirs(PROMTOOL_CACHE, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", "prometheus"],
                       cwd=PROMTOOL_CACHE, check=True, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        debs = [f for f in os.listdir(PROMTOOL_CACHE)
                if f.startswith("prometheus_") and f.endswith(".deb")]
        subprocess.run(["dpkg-deb", "-x",
                        os.path.join(PROMTOOL_CACHE, debs[0]),
                        os.path.join(PROMTOOL_CACHE, "x")], check=True,
                       timeout=120)
    except (subprocess.SubprocessError, OSError, IndexError) as e:
        return None, ("promtool missing (Debian package prometheus) and "
                      "fetching it failed: %s" % e)
    return (cached, None) if os.access(cached, os.X_OK) else \
        (None, "promtool not found in the prometheus package")


def setUpModule():
    global CLUSTER, KEYFILE, A, B
    harness.require_binary()
    CLUSTER = pg.Cluster.start()
    try:
        KEYFILE, _ = pg.signing_key(CLUSTER.parent)
        A = MetricsDaemon("metrics-a")
        B = MetricsDaemon("metrics-b")
        p = subprocess.run([harness.BULWARKD, "-c", A.conf_path,
                            "--init-db"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=harness.child_env(),
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError("--init-db: %s" % p.stderr)
        pg.add_user(A, "rita", "reader", PASSWORD)
        pg.add_user(A, "lock_me", "reader", PASSWORD)
        for d in (A, B):
            d.start()
        for d in (A, B):
            d.wait_db_ready("/ok")
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER, A, B
    for d in (A, B):
        if d is not None and d.proc is not None:
            d.stop()
    A = B = None
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


class TestMetrics(unittest.TestCase):

    def delta(self, before, after, name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    def test_known_mix(self):
        tok = pg.login(A, "rita", PASSWORD)
        self.assertEqual(tok.status, 200, tok.body)
        bearer = [("Authorization", "Bearer " + tok.json()["access_token"])]
        before = A.scrape()
        b_before = B.scrape()
        for _ in range(3):
            self.assertEqual(A.request("GET", "/ok").status, 200)
        self.assertEqual(A.request("GET", "/who/7", bearer).status, 200)
        self.assertEqual(A.request("GET", "/nope/secret-path").status, 404)
        self.assertEqual(A.request("GET", "/who/1").status, 401)
        self.assertEqual(A.request("GET", "/who/1", [(
            "Authorization", "Bearer not.a.token")]).status, 401)
        self.assertEqual(A.request("GET", "/boss", bearer).status, 403)
        self.assertEqual(pg.login(A, "rita", "not the password at all").status,
                         401)
        sent = 9
        # The rate limit: 1/m with burst 2, counted per instance.
        statuses = [A.request("GET", "/lim").status for _ in range(3)]
        sent += 3
        self.assertEqual(statuses, [200, 200, 429])
        n429 = 1
        # A failed handshake: plain text on the TLS port.
        with socket.create_connection(("127.0.0.1", A.port), 5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        after = A.scrape()
        text = A.scrape_text()

        req = "bulwark_http_requests_total"
        self.assertEqual(self.delta(before, after, req, route="ok",
                                    status="200"), 3)
        self.assertEqual(self.delta(before, after, req, route="who",
                                    status="200"), 1)
        self.assertEqual(self.delta(before, after, req, route="",
                                    status="404"), 1)
        self.assertEqual(self.delta(before, after, req, route="who",
                                    status="401"), 2)
        self.assertEqual(self.delta(before, after, req, route="boss",
                                    status="403"), 1)
        self.assertEqual(self.delta(before, after, req, route="auth.login",
                                    status="401"), 1)
        self.assertEqual(self.delta(before, after, req, route="lim",
                                    status="429"), n429)
        self.assertEqual(self.delta(before, after, req, route="lim",
                                    status="200"), 3 - n429)
        self.assertEqual(self.delta(before, after,
                                    "bulwark_rate_limited_total",
                                    route="lim"), n429)
        fail = "bulwark_auth_failures_total"
        self.assertEqual(self.delta(before, after, fail, reason="missing"),
                         1)
        self.assertEqual(self.delta(before, after, fail, reason="invalid"),
                         1)
        self.assertEqual(self.delta(before, after, fail,
                                    reason="password"), 1)
        # Every request above had a connection of its own.
        self.assertEqual(self.delta(before, after,
                                    "bulwark_tls_handshakes_total"), sent)
        self.assertEqual(self.delta(before, after,
                                    "bulwark_tls_handshake_failures_total"),
                         1)
        # The sum of all statuses moved by what was sent.
        total = sum(v for (n, _), v in after.items() if n == req) - \
            sum(v for (n, _), v in before.items() if n == req)
        self.assertEqual(total, sent)
        # Histogram: count = +Inf bucket = requests of the route.
        hist = "bulwark_http_request_duration_seconds"
        self.assertEqual(
            self.delta(before, after, hist + "_count", route="ok"), 3)
        self.assertEqual(val(after, hist + "_count", route="ok"),
                         val(after, hist + "_bucket", route="ok", le="+Inf"))
        # Gauges per worker slot.
        for w in ("0", "1"):
            self.assertIn(("bulwark_db_pool_in_use",
                           frozenset({("worker", w)})), after)
            self.assertIn(("bulwark_db_pool_waiting",
                           frozenset({("worker", w)})), after)
        self.assertIn(("bulwark_audit_queue_depth", frozenset()), after)
        # Route names only: no path, user name or token anywhere.
        for bad in ("secret-path", "/who", "rita", "not.a.token",
                    tok.json()["access_token"][:20]):
            self.assertNotIn(bad, text)
        routes_seen = {dict(k[1]).get("route") for k in after
                       if "route" in dict(k[1])}
        self.assertLessEqual(routes_seen, {"", "ok", "who", "boss", "lim",
                                           "auth.login"})
        # B saw none of it.
        b_after = B.scrape()
        self.assertEqual(self.delta(b_before, b_after, req, route="ok",
                                    status="200"), 0)
        self.assertEqual(self.delta(b_before, b_after, fail,
                                    reason="missing"), 0)

    def test_promtool(self):
        tool, why = promtool()
        if tool is None:
            self.skipTest(why)
        A.request("GET", "/ok")
        A.request("GET", "/nope")
        text = A.scrape_text()
        p = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_admin_methods_and_host(self):
        c = http.client.HTTPConnection("127.0.0.1", A.admin_port, timeout=5)
        try:
            c.request("GET", "/metrics", headers={"Host": "evil.example"})
            r = c.getresponse()
            self.assertEqual(r.status, 403)
            self.assertNotIn(b"bulwark_", r.read())
        finally:
            c.close()
        c = http.client.HTTPConnection("127.0.0.1", A.admin_port, timeout=5)
        try:
            c.request("POST", "/metrics", headers={"Host": "localhost"})
            r = c.getresponse()
            self.assertEqual(r.status, 405)
            self.assertEqual(r.getheader("Allow"), "GET, HEAD")
        finally:
            c.close()


class TestTwoInstances(unittest.TestCase):
    """SPEC 13: lockout state is in the database, so failures on A and B
    add up; each instance's /metrics is its own."""

    def test_lockout_across_instances(self):
        a0, b0 = A.scrape(), B.scrape()
        for i in range(MAX_FAILURES - 1):
            self.assertEqual(pg.login(A, "lock_me", "wrong password %d!!" %
                                   i).status, 401)
        self.assertEqual(pg.login(B, "lock_me", "wrong password b!!").status,
                         401)
        r = pg.login(A, "lock_me", PASSWORD)
        self.assertEqual(r.status, 429, r.body)
        self.assertIsNotNone(r.header("Retry-After"))
        self.assertEqual(pg.login(B, "lock_me", PASSWORD).status, 429)
        a1, b1 = A.scrape(), B.scrape()
        self.assertEqual(val(b1, "bulwark_lockouts_total") -
                         val(b0, "bulwark_lockouts_total"), 1)
        self.assertEqual(val(a1, "bulwark_lockouts_total") -
                         val(a0, "bulwark_lockouts_total"), 0)
        fail = "bulwark_auth_failures_total"
        self.assertEqual(val(a1, fail, reason="password") -
                         val(a0, fail, reason="password"),
                         MAX_FAILURES - 1)
        self.assertEqual(val(b1, fail, reason="password") -
                         val(b0, fail, reason="password"), 1)
        self.assertEqual(val(a1, fail, reason="locked") -
                         val(a0, fail, reason="locked"), 1)
        self.assertEqual(val(b1, fail, reason="locked") -
                         val(b0, fail, reason="locked"), 1)
        req = "bulwark_http_requests_total"
        self.assertEqual(val(a1, req, route="auth.login", status="429") -
                         val(a0, req, route="auth.login", status="429"), 1)


if __name__ == "__main__":
    unittest.main()
