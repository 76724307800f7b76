"""
pg.py - a throwaway PostgreSQL for the integration tests, and a bulwarkd
configured to reach it.

    cluster = pg.Cluster.start()        # tests/pg-tmp start DIR --tcp PORT
    cluster.psql("CREATE TABLE t (x int)")
    rows = cluster.rows("SELECT x FROM t")       # [[text or None, ...]]
    d = pg.PgDaemon(cluster, routes=[...]).start()
    cluster.stop_server()               # pg_ctl stop -m immediate
    cluster.start_server()              # pg_ctl start -w (same data)
    cluster.destroy()                   # tests/pg-tmp stop DIR
    pg.add_user(d, "alice", "reader", pw)   # bulwarkd --add-user
    r = pg.login(d, "alice", pw)        # POST /auth/login

The cluster runs as an unprivileged user when the tests run as root
(pg-tmp picks it).  Its socket directory is 0700 and owned by that user,
so bulwarkd's workers (nobody) could not reach it: as root the daemon
connects over TCP to 127.0.0.1 with the superuser's password, from a copy
of DIR/password that is root-owned and 0600 (SPEC 4: a secret file is not
readable by server.user).  Run as another user, the workers keep that user
and connect through the socket (pg-tmp's "trust" for the server's user).

psql runs as a subprocess over TCP with PGPASSWORD from DIR/env; results
are read in unaligned mode with a unit separator (\x1f) between fields,
a record separator (\x1e) between rows and a marker for NULL; psql ends
a non-empty result with one newline, and prints nothing for no rows.
Nothing here builds SQL from data: tests pass literal SQL or psql
variables (-v name=value, used as :'name' in the SQL).

Python 3 standard library only.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PG_TMP = os.path.join(REPO, "tests", "pg-tmp")

FS = "\x1f"
RS = "\x1e"
NULL = "\x1dNULL\x1d"


class PgError(Exception):
    pass


def _bindir():
    """PG_BINDIR, else the highest /usr/lib/postgresql/*/bin (as pg-tmp)."""
    d = os.environ.get("PG_BINDIR")
    if d:
        return d
    best = None
    try:
        for v in os.listdir("/usr/lib/postgresql"):
            b = os.path.join("/usr/lib/postgresql", v, "bin")
            if v.isdigit() and os.access(os.path.join(b, "pg_ctl"), os.X_OK):
                if best is None or int(v) > best[0]:
                    best = (int(v), b)
    except OSError:
        pass
    if best:
        return best[1]
    p = shutil.which("pg_ctl")
    return os.path.dirname(p) if p else None


class Cluster:
    """One pg-tmp cluster (TCP on 127.0.0.1)."""

    def __init__(self, directory, env, port):
        self.dir = directory
        self.env = env
        self.port = port
        self.db = env["PGDATABASE"]
        self.user = env["PGUSER"]
        self.bindir = _bindir()
        st = os.stat(os.path.join(directory, "data"))
        self.owner_uid = st.st_uid

    @classmethod
    def start(cls, db="bulwark_test"):
        """Starts a cluster; raises unittest.SkipTest when PostgreSQL or
        psql is not installed (pg-tmp exit 77)."""
        if shutil.which("psql") is None:
            raise unittest.SkipTest("psql is not installed")
        parent = tempfile.mkdtemp(prefix="bw-pg-")
        os.chmod(parent, 0o755)
        directory = os.path.join(parent, "c")
        port = harness.free_port()
        p = subprocess.run([PG_TMP, "start", directory, "--db", db,
                            "--tcp", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if p.returncode == 77:
            shutil.rmtree(parent, ignore_errors=True)
            raise unittest.SkipTest("PostgreSQL server is not installed")
        if p.returncode != 0:
            shutil.rmtree(parent, ignore_errors=True)
            raise AssertionError("pg-tmp start failed (%d):\n%s" %
                                 (p.returncode, p.stderr.decode("utf-8",
                                                                "replace")))
        env = {}
        for line in p.stdout.decode().splitlines():
            k, sep, v = line.partition("=")
            if sep and not line.startswith("export"):
                env[k] = v
        c = cls(env["PG_TMP_DIR"], env, port)
        c.parent = parent
        return c

    # -- SQL through psql

    def _psql_env(self):
        env = dict(os.environ)
        for k in ("PGSERVICE", "PGSSLMODE", "PGOPTIONS", "PGAPPNAME"):
            env.pop(k, None)
        env.update(self.env)
        env["PGCONNECT_TIMEOUT"] = "5"
        return env

    def psql(self, sql, variables=None, db=None, check=True, timeout=60):
        """Runs sql (one or more statements, ON_ERROR_STOP) and returns
        stdout as text (unaligned, tuples only)."""
        args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", FS, "-R", RS, "-P", "null=" + NULL,
                "-d", db or self.db]
        for k, v in (variables or {}).items():
            args += ["-v", "%s=%s" % (k, v)]
        p = subprocess.run(args, input=sql.encode("utf-8"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self._psql_env(), timeout=timeout)
        if check and p.returncode != 0:
            raise PgError("psql failed (%d): %s\nSQL: %s" %
                          (p.returncode, p.stderr.decode("utf-8", "replace"),
                           sql[:500]))
        return p.stdout.decode("utf-8")

    def rows(self, sql, variables=None, db=None):
        """Rows of a query: a list of lists of str (None for NULL)."""
        out = self.psql(sql, variables, db)
        if out == "":
            return []
        if not out.endswith("\n"):
            raise PgError("unexpected psql output %r" % out[-40:])
        return [[None if f == NULL else f for f in rec.split(FS)]
                for rec in out[:-1].split(RS)]

    def value(self, sql, variables=None, db=None):
        r = self.rows(sql, variables, db)
        if len(r) != 1 or len(r[0]) != 1:
            raise PgError("expected one value from %r, got %r" % (sql, r))
        return r[0][0]

    def user_id(self, name):
        """The id of bulwark user NAME (text)."""
        return self.value("SELECT id FROM bulwark.users WHERE username = :'u'",
                          {"u": name})

    def reachable(self):
        try:
            return self.value("SELECT 1") == "1"
        except (PgError, subprocess.TimeoutExpired):
            return False

    def bulwark_backends(self, datname=None):
        """Connections of bulwarkd (application_name = 'bulwarkd'), to
        database datname when given."""
        return int(self.value(
            "SELECT count(*) FROM pg_stat_activity WHERE "
            "application_name = 'bulwarkd' AND "
            "(:'datname' = '' OR datname = :'datname')",
            {"datname": datname or ""}))

    # -- server life cycle (the data directory stays)

    def _run_as_owner(self, args, timeout=60):
        if os.getuid() == 0 and self.owner_uid != 0:
            import pwd
            name = pwd.getpwuid(self.owner_uid).pw_name
            args = ["runuser", "-u", name, "--"] + args
        return subprocess.run(args, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=self.dir,
                              timeout=timeout)

    def pg_ctl(self, *args):
        if not self.bindir:
            raise AssertionError("pg_ctl not found (set PG_BINDIR)")
        return self._run_as_owner([os.path.join(self.bindir, "pg_ctl"),
                                   "-D", os.path.join(self.dir, "data")] +
                                  list(args))

    def stop_server(self, mode="immediate"):
        p = self.pg_ctl("-m", mode, "-w", "-s", "stop")
        if p.returncode != 0:
            raise AssertionError("pg_ctl stop failed: %s" %
                                 p.stderr.decode("utf-8", "replace"))

    def start_server(self):
        p = self.pg_ctl("-l", os.path.join(self.dir, "log"), "-w", "-t",
                        "60", "-s", "start")
        if p.returncode != 0:
            raise AssertionError("pg_ctl start failed: %s" %
                                 p.stderr.decode("utf-8", "replace"))

    def destroy(self):
        subprocess.run([PG_TMP, "stop", self.dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)
        shutil.rmtree(self.parent, ignore_errors=True)

    # -- what bulwarkd needs

    def conninfo(self, db=None):
        if os.getuid() == 0:
            return ("host=127.0.0.1 port=%d dbname=%s user=%s" %
                    (self.port, db or self.db, self.user))
        return "host=%s port=%d dbname=%s user=%s" % (
            self.dir, self.port, db or self.db, self.user)

    def password_copy(self, directory):
        """A copy of the superuser's password for bulwarkd: root-owned,
        0600 (as root); None when the daemon uses the socket."""
        if os.getuid() != 0:
            return None
        dst = os.path.join(directory, "dbpassword")
        old = os.umask(0o077)
        try:
            shutil.copyfile(os.path.join(self.dir, "password"), dst)
        finally:
            os.umask(old)
        os.chown(dst, 0, 0)
        os.chmod(dst, 0o600)
        return dst

    def database_config(self, directory, db=None):
        cfg = {"conninfo": self.conninfo(db), "connect_timeout": "2s"}
        pw = self.password_copy(directory)
        if pw:
            cfg["password_file"] = pw
        return cfg


class PgDaemon(harness.Daemon):
    """A harness Daemon whose `database` section reaches cluster."""

    def __init__(self, cluster, config=None, routes=None, db=None, **kw):
        self.cluster = cluster
        self.pg_db = db
        harness.Daemon.__init__(self, config=config, routes=routes, **kw)

    def database_config(self):
        return self.cluster.database_config(self.dir, self.pg_db)

    def check(self, *flags, timeout=60):
        """bulwarkd -t [flags] -c this configuration: (rc, stdout, stderr)."""
        p = subprocess.run([harness.BULWARKD, "-t"] + list(flags) +
                           ["-c", self.conf_path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=harness.child_env(),
                           timeout=timeout)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def wait_db_ready(self, path, timeout=15.0, want=None, probes=None):
        """Until `probes` consecutive requests to GET path (new
        connections, so they spread over the workers) answer a status
        other than 503 (or `want`).  Returns the last response."""
        probes = probes or max(4, 3 * int(self.workers))
        deadline = time.monotonic() + timeout * harness.SLOW
        ok = 0
        last = None
        while ok < probes:
            try:
                last = self.request("GET", path, timeout=5.0)
                good = (last.status == want if want is not None
                        else last.status != 503)
            except (OSError, harness.Closed, harness.Timeout,
                    harness.ProtocolError) as e:
                last = e
                good = False
            ok = ok + 1 if good else 0
            if ok >= probes:
                break
            if time.monotonic() > deadline:
                raise AssertionError("GET %s not served within %.0fs "
                                     "(last: %r):\n%s" %
                                     (path, timeout, last,
                                      self.stderr_tail()))
            if not good:
                time.sleep(0.1)
        return last


class Shared:
    """One PgDaemon shared by several test classes, started by the first
    class that needs it (so that classes that do not, such as -t checks,
    run even when it cannot start).  A failed start is remembered: later
    classes fail at once instead of waiting again."""

    def __init__(self, factory, ready_path):
        self.factory = factory
        self.ready_path = ready_path
        self.daemon = None
        self.error = None

    def get(self):
        if self.error is not None:
            raise AssertionError("the shared bulwarkd did not start: %s" %
                                 self.error)
        if self.daemon is None:
            d = self.factory()
            try:
                d.start()
                d.wait_db_ready(self.ready_path)
            except BaseException as e:
                self.error = str(e).splitlines()[0] if str(e) else repr(e)
                if d.proc is not None:
                    d.stop()
                raise
            self.daemon = d
        return self.daemon

    def stop(self):
        d, self.daemon = self.daemon, None
        if d is not None and d.proc is not None:
            d.stop_and_check()


class Plain(int):
    """A scalar that harness.to_yaml writes plain, as given: to_yaml
    writes ints with str() and every str double-quoted (a string in strict
    YAML), so a decimal such as `multipleOf: 0.1` travels as this."""

    def __new__(cls, text):
        obj = int.__new__(cls, 0)
        obj.text = text
        return obj

    def __str__(self):
        return self.text

    __repr__ = __str__


def auth_config(keyfile, pool_threads=2, **over):
    """An auth section for tests: the SPEC minimum argon2 parameters and
    an endpoint rate limit out of the way; over replaces keys."""
    cfg = {
        "issuer": "https://bulwark.test", "audience": "bulwark.test",
        "signing_key_file": keyfile,
        "access_ttl": "15m", "refresh_ttl": "1h", "leeway": "30s",
        "endpoint_rate_limit": {"by": "ip", "rate": "1000/s",
                                "burst": 1000},
        "password": {"min_length": 12, "max_length": 128,
                     "argon2": {"memory": "19MiB", "iterations": 2,
                                "parallelism": 1},
                     "pool_threads": pool_threads},
    }
    cfg.update(over)
    return cfg


def signing_key(parent):
    """An Ed25519 key made by bulwarkd --gen-key in PARENT/keys (0755, so
    that the workers' user reaches it); returns (key file, directory)."""
    keydir = os.path.join(parent, "keys")
    os.mkdir(keydir)
    os.chmod(keydir, 0o755)
    keyfile = os.path.join(keydir, "jwt.pem")
    harness.gen_key("ed25519", keyfile)
    return keyfile, keydir


def json_headers(extra=()):
    return [("Content-Type", "application/json")] + list(extra)


def add_user(d, name, roles, password, exists_ok=False):
    """bulwarkd --add-user NAME --roles ROLES with PASSWORD on stdin, for
    daemon d; with exists_ok a NAME already there is no failure."""
    rc, _, err = d.admin("--add-user", name, "--roles", roles,
                         stdin=password + "\n")
    if rc != 0 and not (exists_ok and rc == 1 and "exists" in err):
        raise AssertionError("--add-user %s: %d %s" % (name, rc, err))


def login(d, name, password, path="/auth/login"):
    """POST NAME and PASSWORD as JSON to d's login route: the response."""
    return d.request("POST", path, headers=json_headers(),
                     body=json.dumps({"username": name,
                                      "password": password}).encode())
