"""
test_replica.py - read replicas (SPEC 4 database.replicas, SPEC 7, SPEC 13)
on a real streaming replica.

A primary (tests/pg-tmp) and a hot standby made from it with
`pg_basebackup -R` (its own port, streaming from the primary).  bulwarkd
has the standby in database.replicas.  Covered: replica: true routes run
on the standby (pg_is_in_recovery() and the server's port in the route's
own result) in a read-only transaction; every other route, and so every
write, runs on the primary; with the standby stopped, replica routes fall
back to the primary and are served; once it is back, they return to it.

Environment: BULWARKD; PostgreSQL server binaries (pg_basebackup, pg_ctl)
and psql.  Python 3 standard library only.
"""

import json
import os
import subprocess
import time
import unittest

import harness
import pg

CLUSTER = None
STANDBY = None
DAEMON = None

ROUTES = [
    {"name": "where", "method": "GET", "path": "/where", "roles": ["public"],
     "replica": True,
     "sql": "SELECT pg_is_in_recovery() AS standby, "
            "current_setting('port')::int AS port, "
            "current_setting('transaction_read_only') AS read_only"},
    {"name": "where_primary", "method": "GET", "path": "/where/primary",
     "roles": ["public"],
     "sql": "SELECT pg_is_in_recovery() AS standby, "
            "current_setting('port')::int AS port, "
            "current_setting('transaction_read_only') AS read_only"},
    {"name": "item_add", "method": "POST", "path": "/items",
     "roles": ["public"], "body": {"type": "object"},
     "sql": "INSERT INTO items (note) VALUES ('x') "
            "RETURNING pg_is_in_recovery() AS standby, "
            "current_setting('port')::int AS port"},
]


class Standby:
    """A hot standby of CLUSTER made with pg_basebackup -R."""

    def __init__(self, primary):
        self.primary = primary
        self.dir = os.path.join(primary.parent, "standby")
        self.data = os.path.join(self.dir, "data")
        self.port = harness.free_port()
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o700)
        if os.getuid() == 0 and primary.owner_uid != 0:
            os.chown(self.dir, primary.owner_uid, -1)
        hba = os.path.join(primary.dir, "data", "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("local replication all trust\n" + rules)
        p = primary.pg_ctl("reload")
        if p.returncode != 0:
            raise AssertionError("reload: %s" % p.stderr)
        time.sleep(0.5)
        p = primary._run_as_owner([
            os.path.join(primary.bindir, "pg_basebackup"), "-D", self.data,
            "-R", "-X", "stream", "-c", "fast", "-h", primary.dir,
            "-p", str(primary.port), "-U", primary.user], timeout=120)
        if p.returncode != 0:
            raise AssertionError("pg_basebackup: %s" %
                                 p.stderr.decode("utf-8", "replace"))
        conf = os.path.join(self.data, "postgresql.conf")
        with open(conf, "a") as f:
            f.write("\nport = %d\nhot_standby = on\n" % self.port)
        self.start()

    def ctl(self, *args):
        return self.primary._run_as_owner(
            [os.path.join(self.primary.bindir, "pg_ctl"), "-D", self.data] +
            list(args), timeout=120)

    def start(self):
        p = self.ctl("-l", os.path.join(self.dir, "log"), "-w", "-t", "60",
                     "-s", "start")
        if p.returncode != 0:
            raise AssertionError("standby start: %s" % p.stderr)

    def stop(self):
        p = self.ctl("-m", "fast", "-w", "-s", "stop")
        if p.returncode != 0:
            raise AssertionError("standby stop: %s" % p.stderr)

    def conninfo(self):
        c = self.primary.conninfo()
        return c.replace("port=%d" % self.primary.port, "port=%d" % self.port)


class ReplicaDaemon(pg.PgDaemon):
    def __init__(self):
        pg.PgDaemon.__init__(self, CLUSTER, routes=ROUTES, workers=2,
                             name="replica")
        self.write_config({"database": {"replicas": [STANDBY.conninfo()],
                                        "connect_timeout": "2s"}}, ROUTES)


def setUpModule():
    global CLUSTER, STANDBY, DAEMON
    harness.require_binary()
    CLUSTER = pg.Cluster.start()
    try:
        CLUSTER.psql("CREATE TABLE items (id serial PRIMARY KEY, "
                     "note text NOT NULL)")
        STANDBY = Standby(CLUSTER)
        DAEMON = ReplicaDaemon()
        DAEMON.start()
        DAEMON.wait_db_ready("/where/primary")
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER, STANDBY, DAEMON
    if DAEMON is not None and DAEMON.proc is not None:
        DAEMON.stop()
    DAEMON = None
    if STANDBY is not None:
        STANDBY.ctl("-m", "immediate", "-w", "-s", "stop")
        STANDBY = None
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


def where(path="/where"):
    r = DAEMON.request("GET", path)
    if r.status != 200:
        return r.status, None
    return 200, r.json()


def until(pred, what, timeout=20.0, probes=8):
    """Until `probes` consecutive GET /where (new connections, so both
    workers) satisfy pred; returns the last body."""
    deadline = time.monotonic() + timeout * harness.SLOW
    ok, last = 0, None
    while ok < probes:
        st, body = where()
        last = (st, body)
        ok = ok + 1 if st == 200 and pred(body) else 0
        if ok >= probes:
            break
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached (last %r):\n%s" %
                                 (what, last, DAEMON.stderr_tail()))
        time.sleep(0.05 if ok else 0.2)
    return last[1]


def on_standby(b):
    return b["standby"] is True and b["port"] == STANDBY.port


def on_primary(b):
    return b["standby"] is False and b["port"] == CLUSTER.port


class TestReplica(unittest.TestCase):
    """The methods run in name order: reads, writes, then the fallback
    and the recovery."""

    def test_1_reads_on_standby_read_only(self):
        b = until(on_standby, "reads on the standby")
        self.assertEqual(b["read_only"], "on")
        # A route without replica: true stays on the primary, read-write.
        for _ in range(4):
            st, b = where("/where/primary")
            self.assertEqual(st, 200)
            self.assertTrue(on_primary(b), b)
            self.assertEqual(b["read_only"], "off")

    def test_2_writes_on_primary(self):
        until(on_standby, "reads on the standby")
        for _ in range(4):
            r = DAEMON.request("POST", "/items", pg.json_headers(), b"{}")
            self.assertEqual(r.status, 200, r.body)
            self.assertTrue(on_primary(r.json()), r.json())
        self.assertEqual(CLUSTER.value("SELECT count(*) FROM items"), "4")

    def test_3_fallback_and_recovery(self):
        until(on_standby, "reads on the standby")
        STANDBY.stop()
        try:
            b = until(on_primary, "fallback to the primary")
            # Still read-only on the primary.
            self.assertEqual(b["read_only"], "on")
            for _ in range(6):
                st, b = where()
                self.assertEqual(st, 200)
                self.assertTrue(on_primary(b), b)
        finally:
            STANDBY.start()
        until(on_standby, "reads back on the standby")


if __name__ == "__main__":
    unittest.main()
