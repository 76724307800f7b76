"""
test_admin.py - the administration modes of SPEC 3 for bulwark's own
schema, its users and API keys, and --gen-key, run as a real bulwarkd
against a real PostgreSQL (tests/pg-tmp, TCP on 127.0.0.1).

What a mode stored is read back with psql and pg_dump, never trusted from
the mode's own output.  Covered: --init-db on an empty database and again
(version recorded); --add-user with the password on stdin (a pipe, and a
terminal without echo, restored on SIGINT), the password policy, the
username and roles rules; --list-users without hashes; a dump of the schema holding no
password and no API key in clear, and argon2id hashes with the configured
parameters; --set-password (also under other argon2 parameters),
--disable-user, --enable-user and --revoke-sessions with their cut-offs and
revoked refresh families; --add-api-key (format, printed once, only
SHA-256 of the secret stored), --list-api-keys, --revoke-api-key; exit
statuses 1 (unknown user, refused password), 2 (usage) and 3 (database
unreachable, schema missing); --gen-key (mode, never overwriting, no
configuration needed).

Environment: BULWARKD; PostgreSQL server binaries, psql and pg_dump
(skipped with the reason when missing).  Python 3 standard library only.
"""

import base64
import hashlib
import os
import re
import secrets
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import termios
import time
import unittest

import harness
import pg

CLUSTER = None
ADMIN = None

PASSWORD = "correct horse battery " + secrets.token_hex(8)
HASH_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
KEY_RE = re.compile(r"^bwk_[a-z2-7]{8}_[A-Za-z0-9_-]{43}$")


class Admin:
    """A configuration for the administration modes: database, auth with
    the SPEC minimum argon2 parameters, roles admin > editor > reader."""

    def __init__(self, db=None, database=None, argon2=None):
        self.d = pg.PgDaemon(CLUSTER, name="admin", db=db)
        self.key = os.path.join(self.d.dir, "jwt.pem")
        make_signing_key(self.key)
        cfg = {
            "database": database or self.d.database_config(),
            "auth": {
                "issuer": "https://bulwark.test",
                "audience": "bulwark.test",
                "signing_key_file": self.key,
                "password": {
                    "min_length": 12,
                    "max_length": 128,
                    "argon2": argon2 or {"memory": "19MiB",
                                         "iterations": 2,
                                         "parallelism": 1},
                },
            },
            "roles": {
                "admin": {"inherits": ["editor"]},
                "editor": {"inherits": ["reader"]},
                "reader": {},
            },
        }
        self.d.write_config(cfg)

    def run(self, *args, stdin=b"", timeout=60):
        """bulwarkd -c CONF ARGS with stdin (bytes): (rc, out, err)."""
        return self.d.admin(*args, stdin=stdin, timeout=timeout)

    def cleanup(self):
        self.d.cleanup()


def make_signing_key(path):
    """An Ed25519 key with bulwarkd --gen-key, else the openssl CLI."""
    p = subprocess.run([harness.BULWARKD, "--gen-key", "ed25519", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=harness.child_env(), timeout=30)
    if p.returncode != 0:
        old = os.umask(0o077)
        try:
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                            "-out", path], check=True,
                           env=harness.child_env(),
                           stdout=subprocess.DEVNULL)
        finally:
            os.umask(old)


def setUpModule():
    global CLUSTER, ADMIN
    harness.require_binary()
    if shutil.which("pg_dump") is None:
        raise unittest.SkipTest("pg_dump is not installed")
    CLUSTER = pg.Cluster.start()
    try:
        CLUSTER.psql("CREATE DATABASE bw_fresh")
        ADMIN = Admin()
        rc, out, err = ADMIN.run("--init-db")
        if rc != 0:
            raise AssertionError("--init-db failed (%d): %s" % (rc, err))
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER, ADMIN
    if ADMIN is not None:
        ADMIN.cleanup()
        ADMIN = None
    if CLUSTER is not None:
        CLUSTER.destroy()
        CLUSTER = None


def user_row(name, cols="password_hash, tokens_valid_after, disabled"):
    rows = CLUSTER.rows("SELECT " + cols + " FROM bulwark.users "
                        "WHERE username = :'u'", {"u": name})
    return rows[0] if rows else None


def tva(name):
    """tokens_valid_after in microseconds since the epoch."""
    return int(CLUSTER.value(
        "SELECT (extract(epoch FROM tokens_valid_after) * 1000000)::bigint "
        "FROM bulwark.users WHERE username = :'u'", {"u": name}))


def add_families(name, n):
    CLUSTER.psql("INSERT INTO bulwark.refresh_families (user_id, expires_at) "
                 "SELECT id, now() + interval '1 day' FROM bulwark.users, "
                 "generate_series(1, :n) WHERE username = :'u'",
                 {"u": name, "n": str(n)})


def live_families(name):
    return int(CLUSTER.value(
        "SELECT count(*) FROM bulwark.refresh_families f JOIN bulwark.users "
        "u ON u.id = f.user_id WHERE u.username = :'u' AND "
        "f.revoked_at IS NULL", {"u": name}))


def pg_dump_schema():
    env = CLUSTER._psql_env()
    p = subprocess.run(["pg_dump", "--schema=bulwark", "-d", CLUSTER.db],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=60)
    if p.returncode != 0:
        raise AssertionError("pg_dump failed: %s" % p.stderr.decode())
    return p.stdout.decode("utf-8")


class TestInitDb(unittest.TestCase):

    def test_again_is_idempotent(self):
        rc, out, err = ADMIN.run("--init-db")
        self.assertEqual(rc, 0, err)
        self.assertIn("up to date (version 2)", out)
        self.assertEqual(CLUSTER.value(
            "SELECT version FROM bulwark.schema_version"), "2")
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.schema_version"), "1")

    def test_empty_database(self):
        fresh = Admin(db="bw_fresh")
        try:
            rc, out, err = fresh.run("--list-users")
            self.assertEqual(rc, 3, err)
            self.assertIn("--init-db", err)
            rc, out, err = fresh.run("--init-db")
            self.assertEqual(rc, 0, err)
            self.assertIn("created at version 2", out)
            rc, out, err = fresh.run("--init-db")
            self.assertEqual(rc, 0, err)
            self.assertIn("up to date", out)
            tables = CLUSTER.value(
                "SELECT string_agg(tablename, ',' ORDER BY tablename) "
                "FROM pg_tables WHERE schemaname = 'bulwark'", db="bw_fresh")
            self.assertEqual(tables, "api_keys,audit,audit_head,"
                             "denied_jtis,login_failures,"
                             "refresh_families,refresh_tokens,"
                             "schema_version,users")
            self.assertEqual(CLUSTER.value(
                "SELECT version FROM bulwark.schema_version",
                db="bw_fresh"), "2")
            rc, out, err = fresh.run("--list-users")
            self.assertEqual((rc, out), (0, "username\troles\tstatus\t"
                                         "created\n"), err)
        finally:
            fresh.cleanup()


class TestUsers(unittest.TestCase):

    def add(self, name, password=PASSWORD, roles="reader"):
        return ADMIN.run("--add-user", name, "--roles", roles,
                         stdin=password + "\n")

    def test_add_and_list(self):
        rc, out, err = self.add("Alice", roles="editor,reader,editor")
        self.assertEqual(rc, 0, err)
        self.assertIn("user alice added", out)
        phc, _, disabled = user_row("alice")
        self.assertTrue(phc.startswith(HASH_PREFIX), phc)
        self.assertEqual(disabled, "f")
        self.assertEqual(CLUSTER.value(
            "SELECT array_to_string(roles, ',') FROM bulwark.users "
            "WHERE username = 'alice'"), "editor,reader")
        rc, out, err = ADMIN.run("--list-users")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^alice\teditor,reader\tenabled\t"
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn("$argon2", out + err)
        self.assertNotIn(PASSWORD, out + err)

        rc, out, err = self.add("alice")
        self.assertEqual(rc, 1)
        self.assertIn("exists", err)

    def test_password_policy(self):
        before = CLUSTER.value("SELECT count(*) FROM bulwark.users")
        cases = [
            ("short", "too short"),
            ("abcdefghijkl\x01mnop", "control character"),
            ("abcdefghijkl\tmnop", "control character"),
            ("a" * 129, "too long"),
        ]
        for pw, why in cases:
            with self.subTest(why=why):
                rc, out, err = self.add("polly", pw)
                self.assertEqual(rc, 1, err)
                self.assertIn(why, err)
        rc, out, err = ADMIN.run("--add-user", "polly", "--roles", "reader",
                                 stdin=b"abcdefghijkl\xff\xfe\n")
        self.assertEqual(rc, 1)
        self.assertIn("UTF-8", err)
        rc, out, err = ADMIN.run("--add-user", "polly", "--roles", "reader",
                                 stdin=b"")
        self.assertEqual(rc, 1)
        self.assertIn("no password", err)
        rc, out, err = ADMIN.run("--add-user", "polly", "--roles", "reader",
                                 stdin=b"x" * 20000)
        self.assertEqual(rc, 1)
        self.assertIn("longer than", err)
        self.assertEqual(CLUSTER.value("SELECT count(*) FROM bulwark.users"),
                         before)
        # Code points, not bytes: 12 three-byte characters pass.
        rc, out, err = self.add("polly", "\u20ac" * 12)
        self.assertEqual(rc, 0, err)
        # Only the first line is the password; no newline is stored.
        rc, out, err = ADMIN.run("--add-user", "pete", "--roles", "reader",
                                 stdin=PASSWORD + "\nsecond line\n")
        self.assertEqual(rc, 0, err)

    def test_no_password_in_argv(self):
        rc, out, err = ADMIN.run("--add-user", "argv", "--roles", "reader",
                                 "--password", PASSWORD)
        self.assertEqual(rc, 2)
        self.assertIsNone(user_row("argv"))

    def test_username_rules(self):
        for name in ("-lead", ".dot", "with space", "a" * 65, "\u00e9t\u00e9",
                     "semi;colon", ""):
            with self.subTest(name=name):
                rc, out, err = self.add(name)
                self.assertEqual(rc, 2, err)
                self.assertIn("invalid name", err)
        rc, out, err = self.add("x" * 64)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.add("o'brien.dev")
        self.assertEqual(rc, 2)
        rc, out, err = self.add("ops@example.com")
        self.assertEqual(rc, 0, err)

    def test_no_control_characters_echoed(self):
        """Issue 11 finding 6: a newline or an escape in an argument is
        written as \\xNN, never raw: each diagnostic stays one line."""
        for args in (("--add-user", "bob\nbulwarkd: user bob added",
                      "--roles", "reader"),
                     ("--add-user", "eve\x1b[2J", "--roles", "reader"),
                     ("--add-user", "carl", "--roles", "reader,x\ny"),
                     ("--gen-key", "ed\r25519", "/nonexistent/k.pem")):
            with self.subTest(args=args):
                rc, out, err = ADMIN.run(*args, stdin=PASSWORD + "\n")
                self.assertEqual(rc, 2, err)
                for line in err.splitlines():
                    self.assertTrue(line.startswith(("bulwarkd: ",
                                                     ADMIN.d.conf_path)),
                                    err)
                self.assertNotIn("\x1b", err)
                self.assertNotIn("\r", err)
                self.assertRegex(err, r"\\x(0a|1b|0d)")
        self.assertIsNone(user_row("carl"))

    def test_roles_rules(self):
        cases = [
            (["--roles", "nosuch"], "unknown role 'nosuch'"),
            (["--roles", "reader,nosuch"], "unknown role"),
            (["--roles", "public"], "public"),
            (["--roles", "reader,,editor"], "empty"),
            (["--roles", ""], "empty"),
            (["--roles", "Reader"], "unknown role"),
            ([], "needs --roles"),
            (["--roles", "reader", "--roles", "editor"], "twice"),
        ]
        for extra, why in cases:
            with self.subTest(extra=extra):
                rc, out, err = ADMIN.run("--add-user", "rita", *extra,
                                         stdin=PASSWORD + "\n")
                self.assertEqual(rc, 2, err)
                self.assertIn(why, err)
        self.assertIsNone(user_row("rita"))
        rc, out, err = ADMIN.run("--disable-user", "rita", "--roles",
                                 "reader")
        self.assertEqual(rc, 2)
        rc, out, err = ADMIN.run("--roles", "reader")
        self.assertEqual(rc, 2)

    def test_set_password(self):
        self.assertEqual(self.add("sam")[0], 0)
        add_families("sam", 3)
        old_hash, _, _ = user_row("sam")
        t0 = tva("sam")
        time.sleep(0.01)
        rc, out, err = ADMIN.run("--set-password", "SAM",
                                 stdin="another " + PASSWORD + "\n")
        self.assertEqual(rc, 0, err)
        self.assertIn("3 session(s) revoked", out)
        new_hash, _, _ = user_row("sam")
        self.assertNotEqual(new_hash, old_hash)
        self.assertTrue(new_hash.startswith(HASH_PREFIX))
        self.assertGreater(tva("sam"), t0)
        self.assertEqual(live_families("sam"), 0)
        # Refused by the policy: nothing changes.
        t1 = tva("sam")
        rc, out, err = ADMIN.run("--set-password", "sam", stdin="short\n")
        self.assertEqual(rc, 1)
        self.assertEqual(user_row("sam")[0], new_hash)
        self.assertEqual(tva("sam"), t1)
        # The configured argon2 parameters are the ones used.
        other = Admin(argon2={"memory": "20MiB", "iterations": 3,
                              "parallelism": 2})
        try:
            rc, out, err = other.run("--set-password", "sam",
                                     stdin=PASSWORD + "\n")
            self.assertEqual(rc, 0, err)
        finally:
            other.cleanup()
        self.assertTrue(user_row("sam")[0].startswith(
            "$argon2id$v=19$m=20480,t=3,p=2$"), user_row("sam")[0])

    def test_disable_enable(self):
        self.assertEqual(self.add("dora")[0], 0)
        add_families("dora", 2)
        t0 = tva("dora")
        time.sleep(0.01)
        rc, out, err = ADMIN.run("--disable-user", "dora")
        self.assertEqual(rc, 0, err)
        self.assertEqual(user_row("dora")[2], "t")
        t1 = tva("dora")
        self.assertGreater(t1, t0)
        self.assertEqual(live_families("dora"), 0)
        rc, out, err = ADMIN.run("--list-users")
        self.assertRegex(out, r"(?m)^dora\treader\tdisabled\t")
        rc, out, err = ADMIN.run("--enable-user", "dora")
        self.assertEqual(rc, 0, err)
        self.assertEqual(user_row("dora")[2], "f")
        self.assertEqual(tva("dora"), t1)

    def test_revoke_sessions(self):
        self.assertEqual(self.add("rick")[0], 0)
        self.assertEqual(self.add("ruth")[0], 0)
        add_families("rick", 4)
        add_families("ruth", 1)
        t0 = tva("rick")
        time.sleep(0.01)
        rc, out, err = ADMIN.run("--revoke-sessions", "rick")
        self.assertEqual(rc, 0, err)
        self.assertIn("4 refresh families", out)
        self.assertGreater(tva("rick"), t0)
        self.assertEqual(live_families("rick"), 0)
        self.assertEqual(live_families("ruth"), 1)
        rc, out, err = ADMIN.run("--revoke-sessions", "rick")
        self.assertEqual(rc, 0, err)
        self.assertIn("0 refresh families", out)

    def test_unknown_user(self):
        for args in (["--set-password", "ghost"], ["--disable-user", "ghost"],
                     ["--enable-user", "ghost"],
                     ["--revoke-sessions", "ghost"]):
            with self.subTest(args=args):
                rc, out, err = ADMIN.run(*args, stdin=PASSWORD + "\n")
                self.assertEqual(rc, 1, err)
                self.assertIn("no user named 'ghost'", err)

    def test_terminal_without_echo(self):
        rc, out, typed = self.on_tty("tina", [PASSWORD, PASSWORD])
        self.assertEqual(rc, 0, typed)
        self.assertIn("Password for tina:", typed)
        self.assertIn("Retype", typed)
        self.assertNotIn(PASSWORD, typed)
        self.assertTrue(user_row("tina")[0].startswith(HASH_PREFIX))
        rc, out, typed = self.on_tty("tom", [PASSWORD, PASSWORD + "x"])
        self.assertEqual(rc, 1, typed)
        self.assertIn("do not match", typed)
        self.assertIsNone(user_row("tom"))

    def test_terminal_restored_on_interrupt(self):
        master, slave = os.openpty()
        try:
            p = subprocess.Popen(
                [harness.BULWARKD, "-c", ADMIN.d.conf_path, "--add-user",
                 "ivy", "--roles", "reader"], stdin=slave,
                stdout=subprocess.PIPE, stderr=slave,
                env=harness.child_env(), close_fds=True)
            os.close(slave)
            slave = None
            self.read_until(master, b"Password for", p)
            self.assertFalse(termios.tcgetattr(master)[3] & termios.ECHO)
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=30)
            self.assertEqual(p.returncode, -signal.SIGINT)
            self.assertTrue(termios.tcgetattr(master)[3] & termios.ECHO)
            self.assertIsNone(user_row("ivy"))
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)

    def on_tty(self, name, lines):
        """--add-user with stdin and stderr on a pseudo-terminal, typing
        each line after its prompt.  Returns (rc, stdout, what the
        terminal showed); checks that echo is back on afterwards."""
        master, slave = os.openpty()
        try:
            p = subprocess.Popen(
                [harness.BULWARKD, "-c", ADMIN.d.conf_path, "--add-user",
                 name, "--roles", "reader"], stdin=slave,
                stdout=subprocess.PIPE, stderr=slave,
                env=harness.child_env(), close_fds=True)
            os.close(slave)
            slave = None
            shown = b""
            for prompt, line in zip((b"Password for", b"Retype"), lines):
                shown += self.read_until(master, prompt, p)
                os.write(master, line.encode() + b"\n")
            out, _ = p.communicate(timeout=30)
            shown += self.read_until(master, None, p)
            self.assertTrue(termios.tcgetattr(master)[3] & termios.ECHO)
            return (p.returncode, out.decode(),
                    shown.decode("utf-8", "replace"))
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)

    def read_until(self, fd, marker, proc, timeout=20.0):
        got = b""
        deadline = time.monotonic() + timeout
        while marker is None or marker not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                if marker is None:
                    break
                self.fail("no %r on the terminal: %r" % (marker, got))
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if not r:
                if marker is None and proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        return got


class TestApiKeys(unittest.TestCase):

    def add(self, name, roles="reader"):
        return ADMIN.run("--add-api-key", name, "--roles", roles)

    def test_add_list_revoke(self):
        rc, out, err = self.add("CI", roles="reader,editor")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        key = lines[0]
        self.assertRegex(key, KEY_RE)
        self.assertIn("shown only this once", err)
        self.assertNotIn(key, err)
        kid, secret = key[4:12], key[13:]
        raw = base64.urlsafe_b64decode(secret + "=")
        self.assertEqual(len(raw), 32)
        row = CLUSTER.rows("SELECT name, encode(secret_hash, 'hex'), "
                           "array_to_string(roles, ','), revoked_at IS NULL "
                           "FROM bulwark.api_keys WHERE id = :'id'",
                           {"id": kid})
        self.assertEqual(row, [["ci", hashlib.sha256(raw).hexdigest(),
                                "reader,editor", "t"]])

        rc, out, err = ADMIN.run("--list-api-keys")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^%s\tci\treader,editor\tactive\t" % kid)
        self.assertNotIn(secret, out + err)
        self.assertNotIn(secret[:16], out + err)

        rc, out, err = self.add("ci")
        self.assertEqual(rc, 1)
        self.assertIn("exists", err)
        self.assertEqual(out, "")

        rc, out, err = ADMIN.run("--revoke-api-key", "ci")
        self.assertEqual(rc, 0, err)
        self.assertIn(kid, out)
        self.assertEqual(CLUSTER.value(
            "SELECT revoked_at IS NOT NULL FROM bulwark.api_keys "
            "WHERE id = :'id'", {"id": kid}), "t")
        rc, out, err = ADMIN.run("--revoke-api-key", "ci")
        self.assertEqual(rc, 1)
        self.assertIn("no active API key named 'ci'", err)
        rc, out, err = ADMIN.run("--list-api-keys")
        self.assertRegex(out, r"(?m)^%s\tci\treader,editor\trevoked\t" % kid)

        # The name is free again; the new key is another key.
        rc, out, err = self.add("ci")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.strip(), KEY_RE)
        self.assertNotEqual(out.strip(), key)

    def test_usage(self):
        for args, why in ((["--add-api-key", "k1", "--roles", "nosuch"],
                           "unknown role"),
                          (["--add-api-key", "k1", "--roles", "public"],
                           "public"),
                          (["--add-api-key", "k1"], "needs --roles"),
                          (["--add-api-key", "bad name", "--roles",
                            "reader"], "invalid name")):
            with self.subTest(args=args):
                rc, out, err = ADMIN.run(*args)
                self.assertEqual(rc, 2, err)
                self.assertIn(why, err)
                self.assertEqual(out, "")
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.api_keys WHERE name = 'k1'"), "0")
        rc, out, err = ADMIN.run("--revoke-api-key", "never")
        self.assertEqual(rc, 1)


class TestSchemaHoldsNoSecret(unittest.TestCase):

    def test_dump(self):
        pw = "dump check " + secrets.token_hex(12)
        rc, out, err = ADMIN.run("--add-user", "dumpy", "--roles", "reader",
                                 stdin=pw + "\n")
        self.assertEqual(rc, 0, err)
        rc, key, err = ADMIN.run("--add-api-key", "dumpkey", "--roles",
                                 "reader")
        self.assertEqual(rc, 0, err)
        key = key.strip()
        secret = key[13:]
        raw = base64.urlsafe_b64decode(secret + "=")
        dump = pg_dump_schema()
        self.assertIn("CREATE TABLE bulwark.users", dump)
        self.assertIn(HASH_PREFIX, dump)
        self.assertNotIn(pw, dump)
        self.assertNotIn(pw.encode().hex(), dump)
        self.assertNotIn(key, dump)
        self.assertNotIn(secret, dump)
        self.assertNotIn(raw.hex(), dump)
        self.assertIn(hashlib.sha256(raw).hexdigest(), dump)
        # Every stored password is an argon2id hash with those parameters.
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.users WHERE password_hash NOT "
            "LIKE '$argon2id$v=19$m=%,t=%,p=%$%$%'"), "0")


class TestDatabaseDown(unittest.TestCase):

    def test_unreachable_exit_3(self):
        db = ADMIN.d.database_config()
        db["conninfo"] = re.sub(r"port=\d+", "port=%d" % harness.free_port(),
                                db["conninfo"])
        down = Admin(database=db)
        try:
            for args in (["--init-db"], ["--list-users"],
                         ["--list-api-keys"], ["--disable-user", "x"],
                         ["--add-user", "x", "--roles", "reader"]):
                with self.subTest(args=args):
                    rc, out, err = down.run(*args, stdin=PASSWORD + "\n")
                    self.assertEqual(rc, 3, err)
                    self.assertIn("database unreachable", err)
            # Usage errors come first, without the database.
            rc, out, err = down.run("--add-user", "x", "--roles", "nosuch")
            self.assertEqual(rc, 2)
        finally:
            down.cleanup()

    def test_bad_configuration_exit_1(self):
        rc, out, err = ADMIN.run("-c", "/nonexistent/bulwark.yaml",
                                 "--list-users")
        self.assertEqual(rc, 1)


class TestGenKey(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-genkey-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def gen(self, kind, path):
        p = subprocess.run([harness.BULWARKD, "-c", "/nonexistent.yaml",
                            "--gen-key", kind, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=harness.child_env(), timeout=30)
        return p.returncode, p.stderr.decode()

    def expected_mode(self):
        if os.getuid() == 0:
            try:
                import grp
                grp.getgrnam("bulwark")
                return 0o640
            except KeyError:
                pass
        return 0o600

    def test_creates_and_never_overwrites(self):
        path = os.path.join(self.dir, "jwt.pem")
        rc, err = self.gen("ed25519", path)
        self.assertEqual(rc, 0, err)
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), self.expected_mode())
        with open(path, "rb") as fp:
            first = fp.read()
        self.assertTrue(first.startswith(b"-----BEGIN PRIVATE KEY-----"))
        rc, err = self.gen("ed25519", path)
        self.assertEqual(rc, 3)
        self.assertIn("exists", err)
        with open(path, "rb") as fp:
            self.assertEqual(fp.read(), first)

        secret = os.path.join(self.dir, "hs.key")
        self.assertEqual(self.gen("hs256", secret)[0], 0)
        self.assertEqual(os.path.getsize(secret), 32)

    def test_refuses_links_and_bad_usage(self):
        target = os.path.join(self.dir, "target")
        link = os.path.join(self.dir, "link")
        os.symlink(target, link)
        rc, err = self.gen("hs256", link)
        self.assertNotEqual(rc, 0)
        self.assertFalse(os.path.exists(target))
        rc, err = self.gen("rsa", os.path.join(self.dir, "x"))
        self.assertEqual(rc, 2)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x")))
        p = subprocess.run([harness.BULWARKD, "--gen-key", "ed25519"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=harness.child_env(), timeout=30)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
