"""
test_audit.py - the tamper-evident audit log of SPEC 9 as the
administration modes write it, and bulwarkd --verify-audit, against a real
PostgreSQL (tests/pg-tmp).

Real logs are made by running the administration modes (--init-db,
--add-user, --set-password, ...) with an audit section.  An independent
verifier written here from bulwarkd(8) alone (hashlib/hmac/json) agrees
with --verify-audit on an intact log.  Each kind of tampering, made on a
copy of a real log, is detected with the right reason, record and line:
one changed byte, a deleted record, an inserted forged record, two swapped
records, a duplicated record, the first three records removed, the last
three removed (seen through bulwark.audit_head), a record moved between two
rotated files; a torn last line is reported as torn (exit 4); an intact
chain across three rotated files verifies.  The daemon's audit writer
appends, reopens on SIGUSR1 and is replaced under a seccomp filter of its
own (/proc/PID/status: Seccomp 2, more Seccomp_filters than the master).
No password or API key secret
used by the test appears in the audit file or in any output.

Environment: BULWARKD; PostgreSQL server binaries and psql (skipped with
the reason when missing).  Python 3 standard library only.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import unittest

import harness
import pg

CLUSTER = None
LOG = None          # the shared Audit configuration and its log
PASSWORD = "audit horse battery " + secrets.token_hex(8)
PASSWORD2 = "audit staple " + secrets.token_hex(8)
API_KEYS = []       # every API key printed by --add-api-key
OUTPUTS = []        # every stdout/stderr of a mode

BROKEN_RE = re.compile(r"^(.*):(\d+): seq (\d+): (\w+)", re.M)
ZERO = "0" * 64


class Audit:
    """A configuration with database, auth, roles and an audit section."""

    def __init__(self, instance, name="audit", routes=None):
        self.d = pg.PgDaemon(CLUSTER, name=name)
        self.routes = routes
        self.dir = self.d.dir
        self.log = os.path.join(self.dir, "audit.log")
        self.keyfile = os.path.join(self.dir, "audit.key")
        self.instance = instance
        harness.gen_key("audit", self.keyfile)
        with open(self.keyfile, "rb") as fp:
            self.key = fp.read()
        self.signing = os.path.join(self.dir, "jwt.pem")
        harness.gen_key("ed25519", self.signing)
        self.write()

    def config(self, log=None):
        return {
            "database": self.d.database_config(),
            "auth": {
                "issuer": "https://bulwark.test",
                "audience": "bulwark.test",
                "signing_key_file": self.signing,
                "endpoint_rate_limit": {"by": "ip", "rate": "1000/s",
                                        "burst": 1000},
                "lockout": {"max_failures": 3, "window": "10m",
                            "duration": "1m"},
                "password": {"min_length": 12, "max_length": 128,
                             "argon2": {"memory": "19MiB", "iterations": 2,
                                        "parallelism": 1}},
            },
            "roles": {"admin": {"inherits": ["reader"]}, "reader": {}},
            "audit": {"file": log or self.log, "key_file": self.keyfile,
                      "instance_id": self.instance, "fsync": "always",
                      "control_socket": os.path.join(self.dir,
                                                     "control.sock")},
        }

    def write(self, log=None):
        self.d.write_config(self.config(log), self.routes)

    def run(self, *args, stdin=b"", conf=None, timeout=60):
        rc, out, err = self.d.admin(*args, stdin=stdin, conf=conf,
                                    timeout=timeout)
        OUTPUTS.append(out + err)
        return rc, out, err

    def ok(self, *args, stdin=b""):
        rc, out, err = self.run(*args, stdin=stdin)
        if rc != 0:
            raise AssertionError("%s: exit %d: %s" % (args, rc, err))
        return out

    def verify(self, *files, conf=None, extra=()):
        return self.run("--verify-audit", *(list(files) + list(extra)),
                        conf=conf)

    def lines(self, path=None):
        with open(path or self.log, "rb") as fp:
            return fp.read().splitlines(keepends=True)

    def serve_notes(self):
        """--init-db, start the daemon, and wait until the audited /notes
        route (note_routes) takes a write: until the writer answers a
        worker, audited routes answer 503."""
        self.ok("--init-db")
        self.d.start()
        wait_for(lambda: post_note(self.d, "/notes", "warm").status == 201)

    def cleanup(self):
        self.d.cleanup()


def independent_verify(key, paths):
    """bulwarkd(8), AUDIT LOG: returns (records, error or None)."""
    prev, seq, n = bytes(32), 1, 0
    for path in paths:
        with open(path, "rb") as fp:
            data = fp.read()
        for no, line in enumerate(data.split(b"\n")[:-1], 1):
            cut = line.rfind(b',"mac":')
            if cut < 0:
                return n, "%s:%d: no mac" % (path, no)
            rec = json.loads(line)
            if list(rec)[-1] != "mac" or rec["seq"] != seq:
                return n, "%s:%d: order or seq" % (path, no)
            if rec["prev"] != prev.hex():
                return n, "%s:%d: prev" % (path, no)
            if seq == 1 and rec["event"] != "audit.genesis":
                return n, "%s:%d: no genesis" % (path, no)
            mac = hmac.new(key, prev + line[:cut], hashlib.sha256).digest()
            if not hmac.compare_digest(mac.hex(), rec["mac"]):
                return n, "%s:%d: mac" % (path, no)
            prev, seq, n = mac, seq + 1, n + 1
        if data and not data.endswith(b"\n"):
            return n, "%s: torn" % path
    return n, None


def add_user(a, name, roles="reader"):
    return a.ok("--add-user", name, "--roles", roles,
                stdin=PASSWORD + "\n")


def make_history(a):
    """One record of each administration mode (and its genesis)."""
    a.ok("--init-db")
    add_user(a, "alice")
    a.ok("--set-password", "alice", stdin=PASSWORD2 + "\n")
    a.ok("--disable-user", "alice")
    a.ok("--enable-user", "alice")
    a.ok("--revoke-sessions", "alice")
    out = a.ok("--add-api-key", "robot", "--roles", "reader")
    API_KEYS.append(out.strip().split()[-1])
    a.ok("--revoke-api-key", "robot")
    add_user(a, "bob", roles="admin,reader")
    add_user(a, "carol")
    add_user(a, "dave")
    add_user(a, "erin")


def setUpModule():
    global CLUSTER, LOG
    harness.require_binary()
    CLUSTER = pg.Cluster.start()
    try:
        LOG = Audit("inst-main")
        make_history(LOG)
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER, LOG
    if LOG is not None:
        LOG.cleanup()
        LOG = None
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


class TestRecords(unittest.TestCase):
    def test_every_mode_recorded_with_its_fields(self):
        recs = [json.loads(x) for x in LOG.lines()]
        self.assertEqual([r["event"] for r in recs[:9]], [
            "audit.genesis", "admin.init_db", "admin.add_user",
            "admin.set_password", "admin.disable_user", "admin.enable_user",
            "admin.revoke_sessions", "admin.add_api_key",
            "admin.revoke_api_key"])
        for i, r in enumerate(recs, 1):
            self.assertEqual(list(r), [
                "seq", "time", "instance", "event", "request_id", "actor",
                "route", "method", "path", "status", "detail", "prev", "mac"])
            self.assertEqual(list(r["actor"]), ["user", "ip", "api_key"])
            self.assertEqual(r["seq"], i)
            self.assertEqual(r["instance"], "inst-main")
            self.assertRegex(r["time"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            self.assertRegex(r["mac"], "^[0-9a-f]{64}$")
        self.assertEqual(recs[0]["prev"], ZERO)
        add = recs[2]
        self.assertEqual(add["actor"]["user"], "root")
        self.assertIsNone(add["actor"]["ip"])
        self.assertEqual(add["detail"], {"exit": 0, "name": "alice",
                                         "roles": "reader"})
        self.assertEqual(recs[9]["detail"]["roles"], "admin,reader")
        self.assertEqual(os.stat(LOG.log).st_mode & 0o777, 0o600)

    def test_refused_mode_recorded_with_its_exit(self):
        a = Audit("inst-refused", name="refused")
        try:
            rc, _, _ = a.run("--disable-user", "nobody-here")
            self.assertEqual(rc, 1)
            last = json.loads(a.lines()[-1])
            self.assertEqual(last["event"], "admin.disable_user")
            self.assertEqual(last["detail"], {"exit": 1,
                                              "name": "nobody-here"})
        finally:
            a.cleanup()

    def test_unwritable_log_refuses_the_mode(self):
        a = Audit("inst-nolog", name="nolog")
        try:
            a.ok("--init-db")
            a.write(log=os.path.join(a.dir, "missing", "audit.log"))
            rc, _, err = a.run("--add-user", "zed", "--roles", "reader",
                               stdin=PASSWORD + "\n")
            self.assertEqual(rc, 3)
            self.assertIn("not run", err)
            self.assertEqual(CLUSTER.value(
                "SELECT count(*) FROM bulwark.users WHERE username = 'zed'"),
                "0")
        finally:
            a.cleanup()

    def test_file_made_by_root_belongs_to_its_directory_owner(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        a = Audit("inst-owner", name="owner")
        try:
            logdir = os.path.join(a.dir, "logs")
            os.mkdir(logdir)
            os.chown(logdir, 65534, 65534)
            log = os.path.join(logdir, "audit.log")
            a.write(log=log)
            a.ok("--init-db")
            st = os.stat(log)
            self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                             (65534, 65534, 0o600))
        finally:
            a.cleanup()

    def test_check_config_accepts_audit(self):
        rc, out, err = LOG.d.check("--no-db")
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", out)

    def test_check_config_loads_the_key(self):
        a = Audit("inst-shortkey", name="shortkey")
        try:
            short = os.path.join(a.dir, "short.key")
            fd = os.open(short, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, b"k" * 16)
            os.close(fd)
            cfg = a.config()
            cfg["audit"]["key_file"] = short
            a.d.write_config(cfg)
            rc, out, err = a.d.check("--no-db")
            self.assertEqual(rc, 1, out + err)
            self.assertIn("audit: the audit key must hold 32 to 64 bytes",
                          err)
            self.assertNotIn("k" * 16, out + err)
        finally:
            a.cleanup()

    def test_no_secret_anywhere(self):
        with open(LOG.log, "rb") as fp:
            data = fp.read()
        secrets_used = [PASSWORD, PASSWORD2] + API_KEYS
        secrets_used += [k[len("bwk_12345678_"):] for k in API_KEYS]
        self.assertTrue(API_KEYS)
        for s in secrets_used:
            self.assertNotIn(s.encode(), data)
            for o in OUTPUTS:
                if any(k in o for k in API_KEYS):
                    continue    # --add-api-key prints it once, by design
                self.assertNotIn(s, o)
        self.assertNotIn(LOG.key.hex().encode(), data)


class TestVerify(unittest.TestCase):
    def setUp(self):
        self.lines = LOG.lines()
        self.copy = os.path.join(LOG.dir, "copy-%s.log" % self._testMethodName)

    def write(self, lines, path=None, tail=b""):
        with open(path or self.copy, "wb") as fp:
            fp.write(b"".join(lines) + tail)
        return path or self.copy

    def broken(self, path, reason, seq, line, conf=None):
        rc, out, err = LOG.verify(path, conf=conf)
        self.assertEqual(rc, 1, out + err)
        m = BROKEN_RE.search(out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(1), path)
        self.assertEqual((m.group(4), int(m.group(3)), int(m.group(2))),
                         (reason, seq, line), out)
        return out

    def test_intact_agrees_with_independent_verifier(self):
        n, problem = independent_verify(LOG.key, [LOG.log])
        self.assertIsNone(problem)
        self.assertGreaterEqual(n, 13)
        rc, out, err = LOG.verify()
        self.assertEqual(rc, 0, out + err)
        self.assertIn("%d records verified (seq 1 to %d)" % (n, n), out)
        self.assertIn("bulwark.audit_head checked (seq %d)" % n, out)
        self.assertEqual(int(CLUSTER.value(
            "SELECT seq FROM bulwark.audit_head WHERE instance = "
            "'inst-main'")), n)
        rc, out, _ = LOG.verify(self.write(self.lines))
        self.assertEqual(rc, 0)
        self.assertIn("not checked (the last file is not audit.file)", out)

    def test_changed_byte(self):
        lines = list(self.lines)
        rec = bytearray(lines[4])
        i = rec.index(b'"admin.') + 2
        rec[i] ^= 0x01
        lines[4] = bytes(rec)
        self.broken(self.write(lines), "changed", 5, 5)
        n, problem = independent_verify(LOG.key, [self.copy])
        self.assertEqual(n, 4)
        self.assertIn(":5: mac", problem)

    def test_deleted_record(self):
        lines = self.lines[:6] + self.lines[7:]
        out = self.broken(self.write(lines), "removed", 7, 7)
        self.assertIn("6 records verified before it", out)

    def test_inserted_forged_record(self):
        forged = json.loads(self.lines[5])
        forged["event"] = "admin.enable_user"
        forged["detail"] = {"exit": 0, "name": "mallory"}
        body = json.dumps(forged, separators=(",", ":")).encode()
        cut = body.rfind(b',"mac":')
        fake = hmac.new(b"k" * 32, bytes.fromhex(forged["prev"]) +
                        body[:cut], hashlib.sha256).hexdigest()
        forged["mac"] = fake
        line = json.dumps(forged, separators=(",", ":")).encode() + b"\n"
        lines = self.lines[:5] + [line] + self.lines[5:]
        self.broken(self.write(lines), "inserted", 6, 6)

    def test_swapped_records(self):
        lines = list(self.lines)
        lines[6], lines[7] = lines[7], lines[6]
        self.broken(self.write(lines), "reordered", 8, 7)

    def test_duplicated_record(self):
        lines = self.lines[:9] + [self.lines[3]] + self.lines[9:]
        self.broken(self.write(lines), "duplicated", 4, 10)

    def test_first_three_removed(self):
        out = self.broken(self.write(self.lines[3:]), "removed", 1, 1)
        self.assertIn("seq 1 to 3 missing", out)
        rc, out, _ = LOG.verify(self.copy, extra=["--from-seq", "4"])
        self.assertEqual(rc, 0, out)
        self.assertIn("%d records verified (seq 4 to" %
                      (len(self.lines) - 3), out)

    def test_last_three_removed_seen_through_audit_head(self):
        n = len(self.lines)
        path = self.write(self.lines[:-3])
        rc, out, _ = LOG.verify(path)
        self.assertEqual(rc, 0, "a copy is not audit.file: no head")
        # The same file as audit.file of a configuration: head checked.
        conf = os.path.join(LOG.dir, "truncated.yaml")
        text = LOG.d.render(LOG.config(log=path))
        with open(conf, "w") as fp:
            fp.write(text)
        out = self.broken(path, "truncated", n - 2, n - 2, conf=conf)
        self.assertIn("seq %d to %d missing" % (n - 2, n), out)
        self.assertIn("bulwark.audit_head checked (seq %d)" % n, out)
        # Without a database the head cannot be checked, and it says so.
        db = LOG.config(log=path)
        db["database"] = {"conninfo": "host=%s dbname=x" %
                          os.path.join(LOG.dir, "nodb"),
                          "connect_timeout": "1s"}
        with open(conf, "w") as fp:
            fp.write(LOG.d.render(db))
        rc, out, _ = LOG.verify(path, conf=conf)
        self.assertEqual(rc, 0, out)
        self.assertIn("not checked (the database is not reachable)", out)

    def test_torn_last_line(self):
        path = self.write(self.lines, tail=self.lines[-1][:30])
        rc, out, err = LOG.verify(path)
        self.assertEqual(rc, 4, out + err)
        m = BROKEN_RE.search(out)
        self.assertEqual((m.group(4), int(m.group(2))),
                         ("torn", len(self.lines) + 1))
        self.assertIn("%d records verified before it" % len(self.lines), out)

    def test_key_of_another_log_fails_everything(self):
        other = Audit("inst-other", name="other")
        try:
            rc, out, _ = other.verify(LOG.log)
            self.assertEqual(rc, 1)
            self.assertRegex(out, r":1: seq 1: changed")
        finally:
            other.cleanup()


class TestRotation(unittest.TestCase):
    """Three files, renamed between administration runs as logrotate
    would: each new file continues the chain from bulwark.audit_head."""

    @classmethod
    def setUpClass(cls):
        cls.a = Audit("inst-rot", name="rot")
        a = cls.a
        a.ok("--init-db")
        add_user(a, "rot1")
        a.ok("--disable-user", "rot1")
        os.rename(a.log, a.log + ".2")
        add_user(a, "rot2")
        a.ok("--disable-user", "rot2")
        a.ok("--enable-user", "rot2")
        os.rename(a.log, a.log + ".1")
        add_user(a, "rot3")
        a.ok("--disable-user", "rot3")
        cls.files = [a.log + ".2", a.log + ".1", a.log]

    @classmethod
    def tearDownClass(cls):
        cls.a.cleanup()

    def test_three_files_one_chain(self):
        a = self.a
        first = json.loads(a.lines(self.files[1])[0])
        last = json.loads(a.lines(self.files[0])[-1])
        self.assertEqual(first["seq"], last["seq"] + 1)
        self.assertEqual(first["prev"], last["mac"])
        self.assertNotEqual(first["event"], "audit.genesis")
        rc, out, err = a.verify(*self.files)
        self.assertEqual(rc, 0, out + err)
        n, problem = independent_verify(a.key, self.files)
        self.assertIsNone(problem)
        self.assertIn("%d records verified (seq 1 to %d)" % (n, n), out)
        self.assertIn("audit_head checked", out)
        rc, out, _ = a.verify(*self.files[1:])
        self.assertEqual(rc, 1, "a later file alone does not start at "
                         "genesis")
        rc, out, _ = a.verify(*self.files[1:], extra=["--from-seq",
                                                      str(first["seq"])])
        self.assertEqual(rc, 0, out)

    def test_record_moved_between_files(self):
        a = self.a
        old = a.lines(self.files[0])
        mid = a.lines(self.files[1])
        f2, f1 = [os.path.join(a.dir, "moved.%d" % i) for i in (2, 1)]
        moved = old[1]
        with open(f2, "wb") as fp:
            fp.write(b"".join(old[:1] + old[2:]))
        with open(f1, "wb") as fp:
            fp.write(b"".join(mid[:1] + [moved] + mid[1:]))
        rc, out, _ = a.verify(f2, f1, a.log)
        self.assertEqual(rc, 1, out)
        m = BROKEN_RE.search(out)
        self.assertEqual((m.group(1), m.group(4), int(m.group(3)),
                          int(m.group(2))), (f2, "reordered", 3, 2), out)


def writer_pid(d):
    """The pid of the latest audit writer the daemon's log names."""
    pids = re.findall(r"audit writer started \(pid (\d+)\)",
                      d.stderr_text())
    return int(pids[-1]) if pids else None


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout * harness.SLOW
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("condition not met within %.0fs" % timeout)


class TestDaemon(unittest.TestCase):
    """The daemon's audit writer: server.start/stop, administration modes
    while it runs and while it is stopped in one chain, a killed writer
    replaced, SIGUSR1 rotation, recovery of committed rows; the writer,
    the replaced one too, under its own seccomp filter."""

    def setUp(self):
        self.inst = "inst-d%d" % (len(OUTPUTS) % 100000)
        self.a = Audit(self.inst, name="daemon")
        self.a.ok("--init-db")
        self.started = False

    def tearDown(self):
        if self.started:
            self.a.d.stop_and_check()
        else:
            self.a.cleanup()

    def start(self):
        self.a.d.start()
        self.started = True

    def events(self, path=None):
        return [json.loads(x)["event"] for x in self.a.lines(path)]

    def test_admin_modes_with_and_without_daemon_one_chain(self):
        a = self.a
        self.start()
        self.assertEqual(self.events()[-2:], ["server.start", "config.load"])
        sock = os.path.join(a.dir, "control.sock")
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o600)
        add_user(a, "live")
        self.assertEqual(self.events()[-1], "admin.add_user")
        problems = a.d.stop()
        self.assertEqual(problems, [])
        self.started = False
        self.assertEqual(self.events()[-1], "server.stop")
        self.assertFalse(os.path.exists(sock))
        a.ok("--disable-user", "live")
        self.assertEqual(self.events()[-3:], ["admin.add_user",
                                              "server.stop",
                                              "admin.disable_user"])
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)
        n, problem = independent_verify(a.key, [a.log])
        self.assertIsNone(problem)
        self.assertIn("%d records verified" % n, out)

    def test_control_socket_checks_peer_credentials(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        a = self.a
        self.start()
        sock = os.path.join(a.dir, "control.sock")
        os.chmod(sock, 0o666)   # let the mode pass, so that only the
        os.chmod(a.dir, 0o755)  # peer check stands in the way
        probe = ("import socket,sys\n"
                 "s=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET)\n"
                 "s.connect(sys.argv[1])\n"
                 "s.settimeout(5)\n"
                 "try:\n"
                 "    s.send(b'{\"event\":\"admin.forged\"}')\n"
                 "    print('answer' if s.recv(100) else 'closed')\n"
                 "except (BrokenPipeError, ConnectionResetError):\n"
                 "    print('closed')\n")
        p = subprocess.run(["python3", "-c", probe, sock], user=65534,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        self.assertEqual(p.stdout, b"closed\n", p.stderr)
        self.assertIn("peer not allowed", a.d.stderr_text())
        self.assertNotIn("admin.forged", self.events())

    def send_record(self, msg):
        """A record on the control socket as the daemon's processes send
        them (root may); the answer as a dict."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.settimeout(10)
            s.connect(os.path.join(self.a.dir, "control.sock"))
            s.send(json.dumps(msg).encode())
            return json.loads(s.recv(200))
        finally:
            s.close()

    def test_committed_row_gets_its_seq_and_is_not_appended_again(self):
        a = self.a
        self.start()
        row = CLUSTER.value(
            "INSERT INTO bulwark.audit (instance, event, actor_user) "
            "VALUES (:'i', 'request', 'live') RETURNING id",
            {"i": self.inst})
        ans = self.send_record({"event": "request", "user": "live",
                                "route": "notes", "status": 201,
                                "row_id": int(row)})
        self.assertIn("seq", ans)
        self.assertEqual(json.loads(a.lines()[-1])["seq"], ans["seq"])
        self.assertEqual(int(CLUSTER.value(
            "SELECT seq FROM bulwark.audit WHERE id = :'r'",
            {"r": row})), ans["seq"])
        self.assertEqual(int(CLUSTER.value(
            "SELECT seq FROM bulwark.audit_head WHERE instance = :'i'",
            {"i": self.inst})), ans["seq"])
        self.assertEqual(self.send_record({"event": 5}),
                         {"error": "malformed"})
        self.assertIn("malformed record was refused", a.d.stderr_text())
        self.assertEqual(a.d.stop(), [])
        self.started = False
        self.start()
        self.assertEqual(self.events().count("request"), 1)

    def insert_rows(self, users):
        return [int(CLUSTER.value(
            "INSERT INTO bulwark.audit (instance, event, actor_user) "
            "VALUES (:'i', 'request', :'u') RETURNING id",
            {"i": self.inst, "u": u})) for u in users]

    def rows_seq(self):
        return {int(r[0]): (int(r[1]) if r[1] else None) for r in CLUSTER.rows(
            "SELECT id, seq FROM bulwark.audit WHERE instance = :'i'",
            {"i": self.inst})}

    def file_rows(self):
        """row id: seq of every record in the file that names a row."""
        recs = [json.loads(x) for x in self.a.lines()]
        rows = [r["row"] for r in recs if "row" in r]
        self.assertEqual(len(rows), len(set(rows)), "a row recorded twice")
        return {r["row"]: r["seq"] for r in recs if "row" in r}

    def test_records_after_the_head_are_not_appended_again(self):
        """A writer that appended records but died before it stored their
        rows' seq: the next one reads them back after the head."""
        a = self.a
        self.start()
        rows = self.insert_rows(["r1", "r2", "r3"])
        for r in rows:
            self.assertIn("seq", self.send_record(
                {"event": "request", "user": "x", "row_id": r}))
        recs = [json.loads(x) for x in a.lines()]
        self.assertEqual([x.get("row") for x in recs[-3:]], rows)
        before = recs[-4]
        self.assertEqual(a.d.stop(), [])
        self.started = False
        CLUSTER.psql("UPDATE bulwark.audit SET seq = NULL WHERE instance = "
                     ":'i'; UPDATE bulwark.audit_head SET seq = :'s', "
                     "mac = :'m' WHERE instance = :'i'",
                     {"i": self.inst, "s": before["seq"],
                      "m": before["mac"]})
        self.start()
        self.assertNotIn("committed records appended", a.d.stderr_text())
        self.assertEqual(self.events().count("request"), 3)
        self.assertEqual(self.rows_seq(), self.file_rows())
        self.assertEqual(int(CLUSTER.value(
            "SELECT seq FROM bulwark.audit_head WHERE instance = :'i'",
            {"i": self.inst})), len(a.lines()))
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_worker_record_of_a_recovered_row_is_not_appended_again(self):
        """A row committed just before recovery read it, whose worker's
        record arrives after: answered with the seq recovery gave it."""
        a = self.a
        row, = self.insert_rows(["late"])
        self.start()
        self.assertIn("1 committed records appended", a.d.stderr_text())
        ans = self.send_record({"event": "request", "user": "late",
                                "row_id": row})
        self.assertEqual(ans, {"seq": self.file_rows()[row]})
        self.assertEqual(self.events().count("request"), 1)
        self.assertEqual(self.rows_seq(), {row: ans["seq"]})

    def test_seq_not_stored_waits_for_recovery(self):
        """The database refuses to store the rows' seq: the records stay
        once each, the head does not pass them, and once storing works a
        recovery gives each row its record's seq."""
        a = self.a
        self.start()
        wait_for(lambda: CLUSTER.value(
            "SELECT seq FROM bulwark.audit_head WHERE instance = :'i'",
            {"i": self.inst}) == str(len(a.lines())))
        CLUSTER.psql(
            "CREATE FUNCTION bulwark_test_refuse() RETURNS trigger "
            "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'refused'; END$$; "
            "CREATE TRIGGER bulwark_test_refuse BEFORE UPDATE ON "
            "bulwark.audit FOR EACH ROW EXECUTE FUNCTION "
            "bulwark_test_refuse()")
        try:
            head = CLUSTER.value("SELECT seq FROM bulwark.audit_head "
                                 "WHERE instance = :'i'", {"i": self.inst})
            rows = self.insert_rows(["s1", "s2"])
            for r in rows:
                self.assertIn("seq", self.send_record(
                    {"event": "request", "user": "x", "row_id": r}))
            wait_for(lambda: "cannot store the seq" in a.d.stderr_text())
            time.sleep(1.5 * harness.SLOW)	# recovery retried, refused
            self.assertEqual(self.rows_seq(), {r: None for r in rows})
            self.assertEqual(CLUSTER.value(
                "SELECT seq FROM bulwark.audit_head WHERE instance = :'i'",
                {"i": self.inst}), head)
        finally:
            CLUSTER.psql("DROP TRIGGER bulwark_test_refuse ON bulwark.audit; "
                         "DROP FUNCTION bulwark_test_refuse()")
        wait_for(lambda: None not in self.rows_seq().values())
        self.assertEqual(self.rows_seq(), self.file_rows())
        self.assertEqual(self.events().count("request"), 2)
        wait_for(lambda: CLUSTER.value(
            "SELECT seq FROM bulwark.audit_head WHERE instance = :'i'",
            {"i": self.inst}) == str(len(a.lines())))
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_torn_line_cut_at_start(self):
        a = self.a
        self.start()
        self.assertEqual(a.d.stop(), [])
        self.started = False
        whole = a.lines()
        with open(a.log, "ab") as fp:
            fp.write(whole[-1][:40])
        rc, out, _ = a.verify()
        self.assertEqual(rc, 4, out)
        self.start()
        self.assertIn("torn last line (40 bytes", a.d.stderr_text())
        self.assertEqual(a.lines()[:len(whole)], whole)
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_fsync_interval_answers_at_once_and_head_follows(self):
        a = self.a
        cfg = a.config()
        cfg["audit"]["fsync"] = "300ms"
        a.d.write_config(cfg)
        self.start()
        add_user(a, "interval")
        self.assertEqual(self.events()[-1], "admin.add_user")
        n = len(a.lines())
        wait_for(lambda: CLUSTER.value(
            "SELECT seq FROM bulwark.audit_head WHERE instance = :'i'",
            {"i": self.inst}) == str(n))

    def test_writer_killed_is_replaced(self):
        a = self.a
        self.start()
        first = writer_pid(a.d)
        self.assertIsNotNone(first)
        harness.assert_own_filter(self, first, a.d.pid)
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: (writer_pid(a.d) != first and
                                   writer_pid(a.d)))
        wait_for(lambda: os.path.exists(os.path.join(a.dir,
                                                     "control.sock")))
        # It says so once set up, filtered and recovered.
        wait_for(lambda: a.d.stderr_text().count("audit writer serving")
                 == 2)
        harness.assert_own_filter(self, second, a.d.pid)
        time.sleep(0.2 * harness.SLOW)
        add_user(a, "after-kill")
        self.assertEqual(self.events()[-1], "admin.add_user")
        self.assertEqual(self.events().count("server.start"), 1)
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)
        self.assertNotEqual(first, second)

    def test_rotation_by_sigusr1(self):
        a = self.a
        self.start()
        first = writer_pid(a.d)
        add_user(a, "before-rot")
        os.rename(a.log, a.log + ".1")
        a.d.signal(signal.SIGUSR1)
        wait_for(lambda: "reopened" in a.d.stderr_text())
        add_user(a, "after-rot")
        self.assertEqual(self.events(), ["admin.add_user"])
        rc, out, err = a.verify(a.log + ".1", a.log)
        self.assertEqual(rc, 0, out + err)
        # The same writer reopened the file under its filter.
        self.assertEqual(writer_pid(a.d), first)
        harness.assert_own_filter(self, first, a.d.pid)

    def test_recovery_appends_committed_rows_of_this_instance_only(self):
        a = self.a
        CLUSTER.psql(
            "INSERT INTO bulwark.audit (instance, event, actor_user, route, "
            "method, path, status, detail) VALUES "
            "(:'i', 'request', 'u1', 'notes', 'POST', '/notes', "
            "201, '{\"title\": \"one\"}'), "
            "('inst-elsewhere', 'request', 'u2', 'notes', 'POST', '/notes', "
            "201, '{}'), "
            "(:'i', 'request', 'u3', 'notes', 'DELETE', "
            "'/notes/1', 204, '{}')", {"i": self.inst})
        self.start()
        recs = [json.loads(x) for x in a.lines()]
        req = [r for r in recs if r["event"] == "request"]
        self.assertEqual([r["actor"]["user"] for r in req], ["u1", "u3"])
        self.assertEqual(req[0]["detail"], {"title": "one"})
        self.assertEqual(req[0]["route"], "notes")
        self.assertEqual(req[1]["status"], 204)
        rows = CLUSTER.rows(
            "SELECT actor_user, seq FROM bulwark.audit WHERE instance = "
            ":'i' ORDER BY id", {"i": self.inst})
        self.assertEqual([(r[0], int(r[1])) for r in rows],
                         [("u1", req[0]["seq"]), ("u3", req[1]["seq"])])
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.audit WHERE instance = "
            "'inst-elsewhere' AND seq IS NULL"), "1")
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)


NOTE_SECRET = "note-secret-" + secrets.token_hex(8)
AUDIT_NOTES = """
CREATE TABLE IF NOT EXISTS audit_notes (
    id bigserial PRIMARY KEY, title text NOT NULL, secret text);
"""


def note_routes():
    body = {"type": "object", "required": ["title"],
            "properties": {"title": {"type": "string"},
                           "secret": {"type": "string"}}}
    sql = ("INSERT INTO audit_notes (title, secret) VALUES "
           "(:body.title, :body.secret) RETURNING id")
    return [
        harness.route("add_note", "POST", "/notes", body=body, status=201,
                      audit_fields=["title", "missing"], sql=sql),
        harness.route("plain_note", "POST", "/plain", body=body,
                      status=201, audit=False, sql=sql),
        harness.route("slow_note", "POST", "/slow-notes", body=body,
                      status=201, audit_fields=["title"],
                      sql="INSERT INTO audit_notes (title, secret) SELECT "
                          ":body.title, :body.secret FROM pg_sleep(1.5) "
                          "RETURNING id"),
        harness.route("note_count", "GET", "/count", result="value",
                      sql="SELECT count(*) FROM audit_notes"),
        harness.route("admin_only", "GET", "/admin-only", roles=["admin"],
                      result="value", sql="SELECT 1"),
    ]


def post_note(d, path, title, timeout=10.0):
    body = json.dumps({"title": title, "secret": NOTE_SECRET}).encode()
    return d.request("POST", path, pg.json_headers(), body, timeout=timeout)


def note_count():
    return int(CLUSTER.value("SELECT count(*) FROM audit_notes"))


def request_records(a):
    return [json.loads(x) for x in a.lines()
            if json.loads(x)["event"] == "request"]


def unwritten_rows(instance):
    return int(CLUSTER.value("SELECT count(*) FROM bulwark.audit WHERE "
                             "instance = :'i' AND seq IS NULL",
                             {"i": instance}))


class TestAuditedRoutes(unittest.TestCase):
    """Audited routes: the bulwark.audit row committed with the write, the
    record in the file with the listed body members only, unaudited routes
    not recorded, a killed writer replaced without a record lost."""

    def setUp(self):
        CLUSTER.psql(AUDIT_NOTES)
        self.inst = "inst-r%d" % (len(OUTPUTS) % 100000)
        self.a = Audit(self.inst, name="routes", routes=note_routes())
        self.a.serve_notes()

    def tearDown(self):
        problems = self.a.d.stop()
        self.a.cleanup()
        self.assertEqual(problems, [])

    def test_audited_write_has_row_and_record(self):
        a = self.a
        title = "audited " + secrets.token_hex(4)
        r = post_note(a.d, "/notes", title)
        self.assertEqual(r.status, 201, r.body)
        rec = request_records(a)[-1]
        self.assertEqual(rec["route"], "add_note")
        self.assertEqual(rec["method"], "POST")
        self.assertEqual(rec["path"], "/notes")
        self.assertEqual(rec["status"], 201)
        self.assertEqual(rec["detail"], {"title": title})
        self.assertEqual(rec["actor"]["ip"], "127.0.0.1")
        self.assertIsNone(rec["actor"]["user"])
        self.assertEqual(rec["instance"], self.inst)
        self.assertEqual(rec["request_id"], r.header("X-Request-Id"))
        row = CLUSTER.rows("SELECT route, detail::text FROM bulwark.audit "
                           "WHERE instance = :'i' AND seq = :'s'",
                           {"i": self.inst, "s": str(rec["seq"])})
        self.assertEqual(len(row), 1)
        self.assertEqual(row[0][0], "add_note")
        self.assertEqual(json.loads(row[0][1]), {"title": title})
        n = len(request_records(a))
        r = post_note(a.d, "/plain", "plain")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(len(request_records(a)), n)
        with open(a.log, "rb") as fp:
            text = fp.read().decode()
        self.assertNotIn(NOTE_SECRET, text)
        self.assertNotIn(NOTE_SECRET, a.d.stderr_text())
        # Listed members beyond 32 KiB of detail: {} in row and record.
        r = post_note(a.d, "/notes", "x" * 40000)
        self.assertEqual(r.status, 201, r.body)
        rec = request_records(a)[-1]
        self.assertEqual(rec["request_id"], r.header("X-Request-Id"))
        self.assertEqual(rec["detail"], {})
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def leave_while_running(self, body):
        """POST body to /slow-notes and close the connection once its
        statement runs in PostgreSQL (pg_sleep(1.5) before the INSERT)."""
        running = ("SELECT count(*) FROM pg_stat_activity WHERE state = "
                   "'active' AND query LIKE '%pg_sleep(1.5)%' AND pid <> "
                   "pg_backend_pid()")
        with self.a.d.connect() as c:
            c.send_request("POST", "/slow-notes", pg.json_headers(), body)
            wait_for(lambda: int(CLUSTER.value(running)) == 1)

    def test_client_gone_record_follows_the_commit(self):
        """A client that closes its connection while its audited write
        runs: the write commits, and its record reaches the file as the
        segment ends (status null: no response was sent), not at the
        writer's next recovery."""
        a = self.a
        title = "gone " + secrets.token_hex(4)
        body = json.dumps({"title": title}).encode()
        self.leave_while_running(body)
        self.assertEqual(int(CLUSTER.value(
            "SELECT count(*) FROM audit_notes WHERE title = :'t'",
            {"t": title})), 0, "the write ended before the client left")

        def record():
            recs = [r for r in request_records(a)
                    if r["detail"].get("title") == title]
            return recs[0] if recs else None
        rec = wait_for(record, timeout=5)
        self.assertEqual((rec["route"], rec["method"], rec["path"]),
                         ("slow_note", "POST", "/slow-notes"))
        self.assertIsNone(rec["status"])
        self.assertEqual(rec["actor"]["ip"], "127.0.0.1")
        self.assertEqual(len(rec["request_id"]), 32)
        self.assertEqual(int(CLUSTER.value(
            "SELECT count(*) FROM audit_notes WHERE title = :'t'",
            {"t": title})), 1)
        # The writer stored the record's seq: recovery has nothing to do.
        wait_for(lambda: unwritten_rows(self.inst) == 0)
        row = CLUSTER.rows("SELECT seq FROM bulwark.audit WHERE instance = "
                           ":'i' AND detail->>'title' = :'t'",
                           {"i": self.inst, "t": title})
        self.assertEqual(row, [[str(rec["seq"])]])
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_client_gone_then_daemon_stopped(self):
        """The client leaves, then the daemon stops while the audited
        segment still runs: the draining worker waits for the segment and
        sends its record before it exits, so the record is in the file
        when the daemon has stopped, with nothing left for recovery."""
        a = self.a
        title = "stopped " + secrets.token_hex(4)
        body = json.dumps({"title": title}).encode()
        self.leave_while_running(body)
        self.assertEqual(a.d.stop(), [])
        count = "SELECT count(*) FROM audit_notes WHERE title = :'t'"
        self.assertEqual(int(CLUSTER.value(count, {"t": title})), 1)
        self.assertEqual(unwritten_rows(self.inst), 0)

        def titled():
            return [r for r in request_records(a)
                    if r["detail"].get("title") == title]
        self.assertEqual(len(titled()), 1)
        self.assertIsNone(titled()[0]["status"])
        a.d.start()
        wait_for(lambda: post_note(a.d, "/notes", "after").status == 201)
        self.assertEqual(len(titled()), 1)
        self.assertNotIn("recovery: 1 committed", a.d.stderr_text())
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def auth_post(self, path, doc, headers=()):
        return self.a.d.request("POST", path,
                                pg.json_headers(list(headers)),
                                json.dumps(doc).encode(), timeout=10)

    def last(self, event, r=None):
        """The latest record of event (of response r): records outside a
        route's transaction are sent without waiting, so wait for it."""
        rid = r.header("X-Request-Id") if r is not None else None

        def find():
            recs = [json.loads(x) for x in self.a.lines()]
            recs = [x for x in recs if x["event"] == event and
                    (rid is None or x["request_id"] == rid)]
            return recs[-1] if recs else None
        return wait_for(find)

    def test_auth_and_authz_events(self):
        a = self.a
        add_user(a, "eve")
        secrets_used = [PASSWORD, NOTE_SECRET]
        r = self.auth_post("/auth/login", {"username": "eve",
                                           "password": "wrong " + PASSWORD})
        secrets_used.append("wrong " + PASSWORD)
        self.assertEqual(r.status, 401)
        rec = self.last("auth.login.failure", r)
        self.assertEqual((rec["actor"]["user"], rec["status"],
                          rec["path"], rec["actor"]["ip"]),
                         ("eve", 401, "/auth/login", "127.0.0.1"))
        self.assertEqual(rec["request_id"], r.header("X-Request-Id"))
        r = self.auth_post("/auth/login", {"username": "eve",
                                           "password": PASSWORD})
        self.assertEqual(r.status, 200, r.body)
        at, rt = r.json()["access_token"], r.json()["refresh_token"]
        secrets_used += [at, rt]
        rec = self.last("auth.login.success", r)
        self.assertEqual((rec["actor"]["user"], rec["status"]), ("eve", 200))
        r = a.d.request("GET", "/admin-only",
                        [("Authorization", "Bearer " + at)])
        self.assertEqual(r.status, 403)
        rec = self.last("authz.denied", r)
        self.assertEqual((rec["actor"]["user"], rec["route"], rec["status"],
                          rec["method"], rec["path"]),
                         ("eve", "admin_only", 403, "GET", "/admin-only"))
        r = self.auth_post("/auth/refresh", {"refresh_token": rt})
        self.assertEqual(r.status, 200, r.body)
        secrets_used += [r.json()["access_token"], r.json()["refresh_token"]]
        self.assertEqual(self.last("auth.refresh", r)["actor"]["user"],
                         "eve")
        r = self.auth_post("/auth/refresh", {"refresh_token": rt})
        self.assertEqual(r.status, 401)
        self.assertEqual(self.last("auth.refresh.reuse", r)["status"], 401)
        r = self.auth_post("/auth/login", {"username": "eve",
                                           "password": PASSWORD})
        at, rt = r.json()["access_token"], r.json()["refresh_token"]
        secrets_used += [at, rt]
        new = "new audit password " + secrets.token_hex(8)
        secrets_used.append(new)
        r = self.auth_post("/auth/password", {"current_password": PASSWORD,
                                              "new_password": new},
                           [("Authorization", "Bearer " + at)])
        self.assertEqual(r.status, 204, r.body)
        rec = self.last("auth.password.change", r)
        self.assertEqual((rec["actor"]["user"], rec["status"]), ("eve", 204))
        r = self.auth_post("/auth/login", {"username": "eve",
                                           "password": new})
        at, rt = r.json()["access_token"], r.json()["refresh_token"]
        secrets_used += [at, rt]
        r = self.auth_post("/auth/logout", {"refresh_token": rt},
                           [("Authorization", "Bearer " + at)])
        self.assertEqual(r.status, 204, r.body)
        rec = self.last("auth.logout", r)
        self.assertEqual((rec["actor"]["user"], rec["status"]), ("eve", 204))
        for _ in range(30):
            r = self.auth_post("/auth/login", {"username": "eve",
                                               "password": "bad " + new})
            if r.status == 429:
                break
        secrets_used.append("bad " + new)
        self.assertEqual(r.status, 429)
        rec = self.last("auth.login.lockout", r)
        self.assertEqual((rec["actor"]["user"], rec["status"]), ("eve", 429))
        with open(a.log, "rb") as fp:
            text = fp.read().decode()
        logs = text + a.d.stderr_text() + "".join(OUTPUTS)
        for s in secrets_used:
            self.assertNotIn(s, logs)
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_config_events(self):
        a = self.a
        rec = self.last("config.load")
        self.assertEqual(rec["detail"], {"file": a.d.conf_path,
                                         "generation": 1})
        a.d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(json.loads(x)["event"] == "config.reload"
                             for x in a.lines()))
        self.assertEqual(self.last("config.reload")["detail"]["generation"],
                         2)
        with open(a.d.conf_path, "a") as fp:
            fp.write("nonsense: [\n")
        a.d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(json.loads(x)["event"] ==
                             "config.reload_failed" for x in a.lines()))
        a.write()
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_writer_killed_no_write_without_record(self):
        a = self.a
        self.assertEqual(post_note(a.d, "/notes", "before").status, 201)
        pid = writer_pid(a.d)
        os.kill(pid, signal.SIGKILL)
        statuses = [post_note(a.d, "/notes", "during %d" % i).status
                    for i in range(5)]
        for st in statuses:
            self.assertIn(st, (201, 503))
        wait_for(lambda: writer_pid(a.d) not in (None, pid))
        wait_for(lambda: unwritten_rows(self.inst) == 0)
        wait_for(lambda: post_note(a.d, "/notes", "after").status == 201)
        recs = request_records(a)
        rows = int(CLUSTER.value("SELECT count(*) FROM bulwark.audit WHERE "
                                 "instance = :'i'", {"i": self.inst}))
        self.assertEqual(len(recs), rows)
        self.assertEqual(unwritten_rows(self.inst), 0)
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_replica_audited_is_a_load_error(self):
        cfg = self.a.config()
        routes = note_routes()
        routes[0]["replica"] = True
        self.a.d.write_config(cfg, routes)
        rc, out, err = self.a.d.check()
        self.assertNotEqual(rc, 0, out + err)
        self.assertIn("audited route runs on the primary", out + err)
        self.a.write()


def descendants(pid):
    """pid and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as fp:
                    todo += [int(c) for c in fp.read().split()]
        except OSError:
            pass
    return out


class TestCrash(unittest.TestCase):
    """kill -9 of the whole daemon during a load of audited writes: the
    file as left verifies (intact or torn), and after a restart every
    committed audited write has its record; two instances on one database
    keep their chains apart."""

    def setUp(self):
        CLUSTER.psql(AUDIT_NOTES)
        self.made = []

    def tearDown(self):
        for a in self.made:
            problems = a.d.stop()
            a.cleanup()
            self.assertEqual(problems, [])

    def audit(self, inst, name):
        a = Audit(inst, name=name, routes=note_routes())
        self.made.append(a)
        a.serve_notes()
        return a

    def test_kill_9_under_load(self):
        import threading
        inst = "inst-crash-%d" % (len(OUTPUTS) % 100000)
        a = self.audit(inst, "crash")
        tag = "crash-" + secrets.token_hex(4)
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    post_note(a.d, "/notes", tag, timeout=3)
                except Exception:
                    pass
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        for p in descendants(a.d.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        stop.set()
        for t in threads:
            t.join()
        a.d.proc.wait()
        a.d.stop()
        copy = a.log + ".crash"
        shutil.copy(a.log, copy)
        # bulwark.audit_head only moves after a sync, so the file as the
        # crash left it is intact or torn, never short of the head.
        rc, out, err = a.run("--verify-audit", copy)
        self.assertIn(rc, (0, 4), out + err)
        a.d.start()
        wait_for(lambda: unwritten_rows(inst) == 0, timeout=20)
        writes = int(CLUSTER.value("SELECT count(*) FROM audit_notes WHERE "
                                   "title = :'t'", {"t": tag}))
        rows = int(CLUSTER.value(
            "SELECT count(*) FROM bulwark.audit WHERE instance = :'i' AND "
            "detail->>'title' = :'t'", {"i": inst, "t": tag}))
        self.assertGreater(writes, 0)
        self.assertEqual(rows, writes)
        recs = [r for r in request_records(a)
                if r["detail"].get("title") == tag]
        # Every committed write has its record.  A record appended and
        # synced just before the kill, whose seq had not reached
        # bulwark.audit yet, is appended once more by recovery: a second
        # record of the same write (bulwarkd(8) CAVEATS), never a gap.
        self.assertEqual(len({r["request_id"] for r in recs}), writes)
        self.assertGreaterEqual(len(recs), writes)
        self.assertLessEqual(len(recs) - writes, 64)
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_two_instances_one_database(self):
        one = self.audit("inst-one-%d" % len(OUTPUTS), "one")
        two = self.audit("inst-two-%d" % len(OUTPUTS), "two")
        for i in range(3):
            self.assertEqual(post_note(one.d, "/notes", "one").status, 201)
            self.assertEqual(post_note(two.d, "/notes", "two").status, 201)
        # A row of the other instance left unwritten is never appended.
        CLUSTER.psql("INSERT INTO bulwark.audit (instance, event, "
                     "actor_user) VALUES (:'i', 'request', 'other')",
                     {"i": two.instance})
        self.assertEqual(one.d.stop(), [])
        one.d.start()
        wait_for(lambda: post_note(one.d, "/notes", "one").status == 201)
        for a in (one, two):
            recs = [json.loads(x) for x in a.lines()]
            self.assertEqual({r["instance"] for r in recs}, {a.instance})
            self.assertNotIn("other", [r["actor"]["user"] for r in recs])
            rc, out, err = a.verify()
            self.assertEqual(rc, 0, out + err)


class TestBackupEvents(unittest.TestCase):
    """backup.start, backup.success and backup.failure of --backup with no
    daemon running: appended under the lock, in the one chain."""

    def test_backup_records(self):
        bindir = getattr(CLUSTER, "bindir", None) or pg._bindir()
        pg_dump = os.path.join(bindir or "", "pg_dump")
        if not os.access(pg_dump, os.X_OK):
            self.skipTest("no pg_dump")
        a = Audit("inst-bk-%d" % len(OUTPUTS), name="bk")
        try:
            bdir = os.path.join(a.dir, "backups")
            os.mkdir(bdir, 0o700)
            keyfile = os.path.join(a.dir, "backup.key")
            harness.gen_key("backup", keyfile)
            cfg = a.config()
            cfg["backup"] = {"directory": bdir, "key_file": keyfile,
                             "pg_dump": pg_dump,
                             "pg_restore": os.path.join(bindir,
                                                        "pg_restore")}
            a.d.write_config(cfg)
            a.ok("--init-db")
            a.ok("--backup")
            recs = [json.loads(x) for x in a.lines()]
            ev = [r["event"] for r in recs]
            self.assertEqual(ev[-2:], ["backup.start", "backup.success"])
            name = recs[-1]["detail"]["file"]
            self.assertTrue(name.endswith(".bwbk"), name)
            self.assertIn(name, os.listdir(bdir))
            self.assertEqual(recs[-2]["detail"]["file"], name)
            # --restore changes state: it is recorded as admin.restore,
            # and the target's connection string is not.
            CLUSTER.psql("CREATE DATABASE bk_audit_dst")
            target = CLUSTER.conninfo("bk_audit_dst")
            extra = {}
            if "PGPASSWORD" in CLUSTER.env:
                extra["PGPASSWORD"] = CLUSTER.env["PGPASSWORD"]
            p = subprocess.run([harness.BULWARKD, "-c", a.d.conf_path,
                                "--restore", os.path.join(bdir, name),
                                "--target", target, "--yes"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=harness.child_env(**extra), timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            rec = json.loads(a.lines()[-1])
            self.assertEqual(rec["event"], "admin.restore")
            self.assertEqual(rec["detail"]["exit"], 0)
            self.assertNotIn(target.encode(), b"\n".join(a.lines()))
            cfg["backup"]["pg_dump"] = "/bin/false"
            a.d.write_config(cfg)
            rc, out, err = a.run("--backup")
            self.assertNotEqual(rc, 0)
            rec = json.loads(a.lines()[-1])
            self.assertEqual(rec["event"], "backup.failure")
            self.assertIn("error", rec["detail"])
            rc, out, err = a.verify()
            self.assertEqual(rc, 0, out + err)
        finally:
            a.cleanup()


class TestUnwritable(unittest.TestCase):
    """Disk full (a small tmpfs) and a removed file: the daemon's writer
    reports the log unwritable, administration modes are refused before
    they change anything, and it clears by itself."""

    def setUp(self):
        if os.geteuid() != 0 or shutil.which("mount") is None:
            self.skipTest("needs root to mount a tmpfs")
        CLUSTER.psql(AUDIT_NOTES)
        self.a = Audit("inst-full-%d" % len(OUTPUTS), name="full",
                       routes=note_routes())
        self.mnt = os.path.join(self.a.dir, "full")
        os.mkdir(self.mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k",
                            "tmpfs", self.mnt], stderr=subprocess.PIPE)
        if p.returncode != 0:
            self.a.cleanup()
            self.skipTest("cannot mount a tmpfs: %s" % p.stderr)
        self.a.write(log=os.path.join(self.mnt, "audit.log"))
        self.a.log = os.path.join(self.mnt, "audit.log")
        self.a.serve_notes()

    def tearDown(self):
        problems = self.a.d.stop()
        subprocess.run(["umount", "-l", self.mnt])
        self.a.cleanup()
        self.assertEqual(problems, [])

    def fill_disk(self):
        """Writes a file on the tmpfs until it is full; its path."""
        filler = os.path.join(self.mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def users(self, name):
        return CLUSTER.value("SELECT count(*) FROM bulwark.users WHERE "
                             "username = :'u'", {"u": name})

    def test_disk_full_refuses_then_recovers(self):
        a = self.a
        add_user(a, "full-before")
        filler = self.fill_disk()
        rc, _, err = a.run("--add-user", "full-during", "--roles", "reader",
                           stdin=PASSWORD + "\n")
        self.assertEqual(rc, 3, err)
        self.assertIn("cannot be written", err)
        self.assertEqual(self.users("full-during"), "0")
        wait_for(lambda: "cannot write" in a.d.stderr_text())
        os.unlink(filler)
        add_user(a, "full-after")
        self.assertEqual(self.users("full-after"), "1")
        self.assertIn("writing works again", a.d.stderr_text())
        self.assertEqual(a.d.stderr_text().count("cannot write"), 1)
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_disk_full_audited_routes_refused(self):
        a = self.a
        self.assertEqual(post_note(a.d, "/notes", "full-before").status, 201)
        filler = self.fill_disk()
        # The first write after the disk filled up commits; its record
        # fails and the writer reports the log unwritable from then on.
        post_note(a.d, "/notes", "full-first")
        wait_for(lambda: post_note(a.d, "/notes", "probe").status == 503)
        time.sleep(1.5)     # every worker's probe (1 s) has seen it
        before = note_count()
        for i in range(3):
            r = post_note(a.d, "/notes", "full-%d" % i)
            self.assertEqual(r.status, 503, r.body)
        self.assertEqual(note_count(), before)
        r = post_note(a.d, "/plain", "unaudited")
        self.assertEqual(r.status, 201, r.body)
        os.unlink(filler)
        wait_for(lambda: post_note(a.d, "/notes", "after").status == 201)
        wait_for(lambda: unwritten_rows(a.instance) == 0)
        text = a.d.stderr_text()
        # Once per worker and outage, not once per request.
        self.assertIn(text.count("audited routes answer 503"), range(1, 5))
        rc, out, err = a.verify()
        self.assertEqual(rc, 0, out + err)

    def test_removed_file_is_replaced(self):
        a = self.a
        add_user(a, "rm-before")
        last = json.loads(a.lines()[-1])
        os.unlink(a.log)
        rc, _, err = a.run("--add-user", "rm-during", "--roles", "reader",
                           stdin=PASSWORD + "\n")
        self.assertEqual(rc, 3, err)
        self.assertEqual(self.users("rm-during"), "0")
        wait_for(lambda: os.path.exists(a.log))
        add_user(a, "rm-after")
        first = json.loads(a.lines()[0])
        self.assertEqual((first["seq"], first["prev"]),
                         (last["seq"] + 1, last["mac"]))
        rc, out, _ = a.verify(extra=["--from-seq", str(first["seq"])])
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
