"""
test_backup.py - encrypted, verified backups (SPEC 10) and the modes
--backup, --list-backups, --verify-backup and --restore (SPEC 3), run as a
real bulwarkd against a real PostgreSQL (tests/pg-tmp).

Covered: a round trip of a database holding every type of the type-mapping
tests and 100,000 rows, compared per table (row count and an ordered md5);
an independent decryptor written here from bulwarkd(8) alone, whose output
pg_restore --list accepts; every kind of tampering (header, first, middle
and last chunk, truncation at and inside a chunk, swapped and duplicated
chunks, appended bytes, a changed manifest, the wrong key) refused by
--verify-backup and by --restore, which restores nothing; no PGDMP magic,
no SQL text and no row text in the backup directory while a backup runs
and after it, and no partial file under a final name; a killed pg_dump and
a full disk leave no temporary; a second backup while one runs is refused;
the password reaches pg_dump only through its environment; a pg_dump
older than the server is refused; files are 0600 and owned as their
directory; retention keeps exactly `keep`; the daemon's schedule fires
twice, never overlapping; requests succeed while the daemon backs up; a
daemon stopped during a backup leaves no temporary.

Environment: BULWARKD; PostgreSQL server binaries, psql, pg_dump,
pg_restore; python3-cryptography (Debian) for the independent decryptor.
"""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import harness
import pg

try:
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError:         # pragma: no cover - install-deps provides it
    AESGCM = None

CLUSTER = None
SRC = "bk_src"
SMALL = "bk_small"
MARKER = "ROWTEXT-4f1c9a"
ROWS = 100000

SCHEMA_SQL = """
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE typed (
    id int PRIMARY KEY,
    i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
    n numeric, j json, jb jsonb, t text, b bytea,
    tz timestamptz, ts timestamp, d date, ok boolean,
    ai int[], at text[], an numeric[], atz timestamptz[],
    dom posint, u uuid
);
INSERT INTO typed
SELECT g, (g % 32000)::int2, -g, g::int8 * 92233720368, g / 7.0,
       g / 3.0, (g::numeric * 1.10) / 7, ('{"a": [1, 2.50, null], "g": '
       || g || '}')::json, ('{"b": 1.0, "n": ' || g || '}')::jsonb,
       'e' || chr(128512) || ' ünïcode ' || '@MARKER@-' || g,
       decode(md5(g::text), 'hex'),
       '2024-01-02 03:04:05.123456+00'::timestamptz + g * interval '1 s',
       '2024-01-02 03:04:05'::timestamp + g * interval '1 min',
       '2024-01-02'::date + (g % 1000), g % 2 = 0,
       ARRAY[g, NULL, 3], ARRAY['a"b', NULL, 'c\\d', 'NULL', '', 'x,y'],
       ARRAY[1.10, g]::numeric[],
       ARRAY['2024-01-02 03:04:05+00']::timestamptz[],
       (g % 100 + 1)::posint, md5(g::text)::uuid
FROM generate_series(1, @ROWS@) g;
UPDATE typed SET f4 = 'NaN', f8 = 'Infinity', n = 'NaN' WHERE id = 1;
UPDATE typed SET j = NULL, t = NULL, ai = ARRAY[]::int[] WHERE id = 2;
CREATE TABLE notes (id serial PRIMARY KEY, title text NOT NULL,
                    body text);
INSERT INTO notes (title, body)
SELECT 'note ' || g || ' ' || '@MARKER@', repeat('x', g % 50)
FROM generate_series(1, 1000) g;
""".replace("@MARKER@", MARKER).replace("@ROWS@", str(ROWS))

TABLES = ["typed", "notes"]


def make_db(name, sql=None):
    CLUSTER.psql("DROP DATABASE IF EXISTS %s" % name)
    CLUSTER.psql("CREATE DATABASE %s" % name)
    if sql:
        CLUSTER.psql(sql, db=name, timeout=300)


def setUpModule():
    global CLUSTER
    harness.require_binary()
    for prog in ("pg_dump", "pg_restore"):
        if shutil.which(prog) is None:
            raise unittest.SkipTest("%s is not installed" % prog)
    CLUSTER = pg.Cluster.start()
    try:
        make_db(SRC, SCHEMA_SQL)
        make_db(SMALL, "CREATE TABLE t (x text); INSERT INTO t VALUES "
                       "('%s small');" % MARKER)
    except Exception:
        CLUSTER.destroy()
        raise


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.destroy()


def pg_bin(prog):
    if CLUSTER.bindir and os.path.exists(os.path.join(CLUSTER.bindir, prog)):
        return os.path.join(CLUSTER.bindir, prog)
    return shutil.which(prog)


def checksums(db):
    """Per table: row count and md5 of its rows' text in key order."""
    out = {}
    for t in TABLES:
        out[t] = CLUSTER.rows(
            "SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x.id)) "
            "FROM %s x" % t, db=db)[0]
    return out


def relations(db):
    return int(CLUSTER.value(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname NOT IN "
        "('pg_catalog', 'information_schema', 'pg_toast')", db=db))


class Env:
    """A configuration with a backup section: its own directory (0700)
    and key (bulwarkd --gen-key backup)."""

    def __init__(self, db=SRC, keep=3, pg_dump=None, name="bk", extra=None,
                 routes=None):
        self.d = pg.PgDaemon(CLUSTER, name=name, db=db)
        self.bdir = os.path.join(self.d.dir, "backups")
        os.mkdir(self.bdir, 0o700)
        self.keyfile = os.path.join(self.d.dir, "backup.key")
        rc, _, err = self.run_raw(["--gen-key", "backup", self.keyfile])
        assert rc == 0, err
        with open(self.keyfile, "rb") as fp:
            self.key = fp.read()
        self.db = db
        self.backup = {"directory": self.bdir, "key_file": self.keyfile,
                       "keep": keep, "pg_dump": pg_dump or pg_bin("pg_dump"),
                       "pg_restore": pg_bin("pg_restore")}
        self.extra = extra or {}
        self.routes = routes
        self.write()

    def write(self):
        cfg = {"database": self.d.database_config(), "backup": self.backup}
        harness.merge(cfg, self.extra)
        self.d.write_config(cfg, self.routes)

    def run_raw(self, args, timeout=300):
        # --restore's target: the operator's PGPASSWORD, as for psql.
        extra = {}
        if "PGPASSWORD" in CLUSTER.env:
            extra["PGPASSWORD"] = CLUSTER.env["PGPASSWORD"]
        p = subprocess.run([harness.BULWARKD] + args,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE,
                           env=harness.child_env(**extra), timeout=timeout)
        err = p.stderr.decode("utf-8", "replace")
        for marker in harness.SANITIZER_MARKERS:
            if marker in err:
                raise AssertionError("sanitizer report:\n" + err)
        return p.returncode, p.stdout.decode("utf-8", "replace"), err

    def run(self, *args, timeout=300):
        return self.run_raw(["-c", self.d.conf_path] + list(args), timeout)

    def popen(self, *args):
        return subprocess.Popen([harness.BULWARKD, "-c", self.d.conf_path] +
                                list(args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=harness.child_env())

    def backups(self):
        return sorted(n for n in os.listdir(self.bdir)
                      if n.endswith(".bwbk"))

    def slow_pg_dump(self, pause):
        """pg_dump stands in with a pause of PAUSE seconds (text) after
        each piece of at most 16 KiB it passes on."""
        self.backup["pg_dump"] = wrapper(self.d.dir, SLOW_BODY % pause)
        self.write()

    def in_progress(self):
        """Whether a backup's temporary file stands in the directory."""
        return any(n.endswith(".tmp") for n in os.listdir(self.bdir))

    def wait_in_progress(self, tc, timeout=30):
        """Until a backup's temporary file appears; fails tc after
        TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while not self.in_progress():
            if time.monotonic() > deadline:
                tc.fail("no backup under way after %d s\n%s" %
                        (timeout, self.d.stderr_tail()))
            time.sleep(0.02)

    def make_backup(self):
        rc, out, err = self.run("--backup")
        m = re.search(r"backup \S+/(bulwark-\S+\.bwbk) written", out)
        if rc != 0 or m is None:
            raise AssertionError("--backup: %d\n%s%s" % (rc, out, err))
        return m.group(1)

    def cleanup(self):
        self.d.cleanup()


def wrapper(directory, body, name="pg_dump_wrapper"):
    """An executable Python script standing in for pg_dump: body runs with
    REAL (the real pg_dump) and ARGS defined; --version passes through."""
    path = os.path.join(directory, name)
    with open(path, "w") as fp:
        fp.write("#!%s\nimport os, sys, time, signal, subprocess\n"
                 "REAL = %r\nARGS = sys.argv[1:]\n"
                 "if ARGS == ['--version']:\n"
                 "    os.execv(REAL, [REAL] + ARGS)\n" %
                 (sys.executable, pg_bin("pg_dump")))
        fp.write(body)
    os.chmod(path, 0o755)
    return path


SLOW_BODY = """
p = subprocess.Popen([REAL] + ARGS, stdout=subprocess.PIPE)
while True:
    b = p.stdout.read(16384)
    if not b:
        break
    sys.stdout.buffer.write(b)
    sys.stdout.buffer.flush()
    time.sleep(%s)
sys.exit(p.wait())
"""

KILLED_BODY = """
p = subprocess.Popen([REAL] + ARGS, stdout=subprocess.PIPE)
sent = 0
while sent < 300000:
    b = p.stdout.read(16384)
    if not b:
        break
    sys.stdout.buffer.write(b)
    sys.stdout.buffer.flush()
    sent += len(b)
p.kill()
os.kill(os.getpid(), signal.SIGKILL)
"""


def leftovers(directory):
    """Files that are neither complete backups with manifests nor the
    lock and last-success files."""
    return [n for n in os.listdir(directory)
            if n not in (".bulwark-backup.lock", ".last-success")]


def assert_no_plaintext(tc, directory, names=None):
    for n in names or os.listdir(directory):
        try:
            with open(os.path.join(directory, n), "rb") as fp:
                data = fp.read()
        except FileNotFoundError:
            continue
        for needle in (b"PGDMP", MARKER.encode(), b"CREATE TABLE",
                       b"typed", "ünïcode".encode()):
            tc.assertNotIn(needle, data, "%r found in %s" % (needle, n))


# -- the independent decryptor, from bulwarkd(8) BACKUP FILE FORMAT only


def independent_decrypt(data, key):
    if data[:8] != b"BWBACKUP":
        raise ValueError("magic")
    if int.from_bytes(data[8:10], "big") != 1:
        raise ValueError("version")
    key_id = data[10:18]
    salt = data[26:58]
    chunk = int.from_bytes(data[58:62], "big")
    n = int.from_bytes(data[62:64], "big")
    header = data[:64 + n]
    want = HKDF(algorithm=hashes.SHA256(), length=8, salt=None,
                info=b"bulwark backup v1 key id").derive(key)
    if want != key_id:
        raise ValueError("key id")
    fk = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
              info=b"bulwark backup v1 file key").derive(key)
    aead = AESGCM(fk)
    off, i, out = len(header), 0, []
    while True:
        final = len(data) - off <= chunk + 16
        piece = data[off:] if final else data[off:off + chunk + 16]
        idx = i.to_bytes(8, "big")
        out.append(aead.decrypt(b"\0\0\0\0" + idx, piece,
                                header + idx + (b"\1" if final else b"\0")))
        off += len(piece)
        i += 1
        if final:
            return b"".join(out)


def independent_manifest_ok(text, key):
    body, sep, tail = text.rpartition(b',"hmac":"')
    mk = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
              info=b"bulwark backup v1 manifest").derive(key)
    h = hmac.HMAC(mk, hashes.SHA256())
    h.update(body)
    return sep != b"" and tail == h.finalize().hex().encode() + b'"}\n'


class BackupCase(unittest.TestCase):
    env = None

    @classmethod
    def setUpClass(cls):
        cls.env = Env()
        try:
            cls.name = cls.env.make_backup()
        except Exception:
            cls.env.cleanup()
            raise
        cls.path = os.path.join(cls.env.bdir, cls.name)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()


class TestRoundTrip(BackupCase):

    def test_files_and_listing(self):
        st = os.stat(self.path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        dst = os.stat(self.env.bdir)
        self.assertEqual((st.st_uid, st.st_gid), (dst.st_uid, dst.st_gid))
        self.assertRegex(self.name,
                         r"^bulwark-\d{8}T\d{6}Z-%s\.bwbk$" % SRC)
        man = self.path + ".manifest.json"
        self.assertEqual(stat.S_IMODE(os.stat(man).st_mode), 0o600)
        self.assertEqual(sorted(leftovers(self.env.bdir)),
                         [self.name, self.name + ".manifest.json"])
        rc, out, err = self.env.run("--list-backups")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "name\ttime\tsize\tdatabase\tmanifest")
        f = lines[1].split("\t")
        self.assertEqual(f[0], self.name)
        self.assertRegex(f[1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(int(f[2]), st.st_size)
        self.assertEqual(f[3:], [SRC, "yes"])
        assert_no_plaintext(self, self.env.bdir)

    def test_verify(self):
        rc, out, err = self.env.run("--verify-backup", self.path)
        self.assertEqual(rc, 0, err)
        self.assertIn("manifest verified", out)
        self.assertIn("pg_restore --list accepts the dump", out)

    def test_restore_round_trip(self):
        make_db("bk_dst")
        rc, out, err = self.env.run("--restore", self.path, "--target",
                                    CLUSTER.conninfo("bk_dst"), "--yes")
        self.assertEqual(rc, 0, err)
        want = checksums(SRC)
        self.assertEqual(want["typed"][0], str(ROWS))
        self.assertEqual(checksums("bk_dst"), want)
        # A non-empty target is refused; --force restores over it.
        rc, out, err = self.env.run("--restore", self.path, "--target",
                                    CLUSTER.conninfo("bk_dst"), "--yes")
        self.assertEqual(rc, 1, err)
        self.assertIn("--target is not empty", err)
        CLUSTER.psql("UPDATE notes SET title = 'changed'", db="bk_dst")
        rc, out, err = self.env.run("--restore", self.path, "--target",
                                    CLUSTER.conninfo("bk_dst"), "--yes",
                                    "--force")
        self.assertEqual(rc, 0, err)
        self.assertEqual(checksums("bk_dst"), want)

    def test_restore_usage(self):
        for args in (["--restore", self.path, "--yes"],
                     ["--restore", self.path, "--target", "dbname=x"],
                     ["--backup", "--force"], ["--yes"]):
            rc, out, err = self.env.run(*args)
            self.assertEqual(rc, 2, (args, err))

    @unittest.skipIf(AESGCM is None, "python3-cryptography is missing")
    def test_independent_decryptor(self):
        with open(self.path, "rb") as fp:
            data = fp.read()
        plain = independent_decrypt(data, self.env.key)
        self.assertEqual(plain[:5], b"PGDMP")
        p = subprocess.run([pg_bin("pg_restore"), "--list"], input=plain,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"TABLE public typed", p.stdout)
        with open(self.path + ".manifest.json", "rb") as fp:
            self.assertTrue(independent_manifest_ok(fp.read(), self.env.key))


class TestTampering(BackupCase):
    """Each altered copy is refused by --verify-backup and by --restore,
    which leaves its empty target empty."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="bw-bk-tamper-")
        with open(self.path, "rb") as fp:
            self.data = fp.read()
        with open(self.path + ".manifest.json", "rb") as fp:
            self.manifest = fp.read()
        n = int.from_bytes(self.data[62:64], "big")
        self.hlen = 64 + n
        self.sealed = int.from_bytes(self.data[58:62], "big") + 16
        self.nchunks = -(-(len(self.data) - self.hlen) // self.sealed)
        self.assertGreaterEqual(self.nchunks, 4)
        make_db("bk_empty")

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def chunk_at(self, i):
        return self.hlen + i * self.sealed

    def refused(self, data, reason, manifest=None, env=None):
        env = env or self.env
        path = os.path.join(self.work, "copy.bwbk")
        with open(path, "wb") as fp:
            fp.write(data)
        with open(path + ".manifest.json", "wb") as fp:
            fp.write(manifest if manifest is not None else self.manifest)
        rc, out, err = env.run("--verify-backup", path)
        self.assertEqual(rc, 1, (reason, out, err))
        self.assertIn("verification failed", err)
        self.assertIn(reason, err)
        rc, out, err = env.run("--restore", path, "--target",
                               CLUSTER.conninfo("bk_empty"), "--yes")
        self.assertEqual(rc, 1, (reason, out, err))
        self.assertIn(reason, err)
        self.assertIn("nothing was restored", err)
        self.assertEqual(relations("bk_empty"), 0)

    def flipped(self, off):
        b = bytearray(self.data)
        b[off] ^= 0x01
        return bytes(b)

    def test_flipped_header(self):
        self.refused(self.flipped(30), "chunk 0 does not authenticate")
        self.refused(self.flipped(12), "another backup key")
        self.refused(self.flipped(0), "not a bulwark backup")

    def test_flipped_chunks(self):
        last = self.nchunks - 1
        mid = self.nchunks // 2
        self.refused(self.flipped(self.chunk_at(0) + 100),
                     "chunk 0 does not authenticate")
        self.refused(self.flipped(self.chunk_at(mid) + 7),
                     "chunk %d does not authenticate" % mid)
        self.refused(self.flipped(len(self.data) - 1),
                     "chunk %d does not authenticate" % last)

    def test_truncated(self):
        last = self.nchunks - 1
        self.refused(self.data[:self.chunk_at(last)],
                     "file ends after chunk %d, which is not the final"
                     % (last - 1))
        self.refused(self.data[:self.chunk_at(1) + 1000],
                     "chunk 1 does not authenticate")

    def test_swapped_and_duplicated(self):
        a, b = self.chunk_at(1), self.chunk_at(2)
        s = self.sealed
        swapped = (self.data[:a] + self.data[b:b + s] + self.data[a:a + s] +
                   self.data[b + s:])
        self.refused(swapped, "chunk 1 does not authenticate")
        dup = self.data[:b] + self.data[a:a + s] + self.data[b:]
        self.refused(dup, "chunk 2 does not authenticate")

    def test_appended(self):
        self.refused(self.data + b"\0", "does not authenticate")
        self.refused(self.data + self.data[self.chunk_at(1):
                                           self.chunk_at(2)],
                     "does not authenticate")

    def test_changed_manifest(self):
        m = self.manifest.replace(b'"format":1', b'"format":2')
        self.refused(self.data, "hmac mismatch", manifest=m)
        m = bytearray(self.manifest)
        m[m.index(b'"bytes":') + 8] ^= 0x01
        self.refused(self.data, "hmac mismatch", manifest=bytes(m))

    def test_wrong_key(self):
        other = Env(name="bk-other")
        try:
            self.refused(self.data, "made with another backup key",
                         env=other)
        finally:
            other.cleanup()

    def test_manifest_absent_warns(self):
        path = os.path.join(self.work, "copy.bwbk")
        with open(path, "wb") as fp:
            fp.write(self.data)
        rc, out, err = self.env.run("--verify-backup", path)
        self.assertEqual(rc, 0, err)
        self.assertIn("warning:", err)
        self.assertIn("manifest absent", out)


class TestRunning(unittest.TestCase):
    """Backups made on the small database, with stand-ins for pg_dump."""

    def setUp(self):
        self.envs = []

    def tearDown(self):
        for e in self.envs:
            e.cleanup()

    def env(self, **kw):
        kw.setdefault("db", SMALL)
        e = Env(**kw)
        self.envs.append(e)
        return e

    def test_scan_while_running(self):
        e = self.env(db=SRC)
        e.slow_pg_dump("0.002")
        p = e.popen("--backup")
        seen_tmp = False
        final = set()
        while p.poll() is None:
            names = os.listdir(e.bdir)
            if any(n.endswith(".tmp") for n in names):
                seen_tmp = True
            final.update(n for n in names if n.endswith(".bwbk"))
            assert_no_plaintext(self, e.bdir, names)
            time.sleep(0.05)
        out, err = p.communicate()
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(seen_tmp)
        assert_no_plaintext(self, e.bdir)
        self.assertEqual(len(e.backups()), 1)
        # Only the finished file ever had a final name, and it verifies.
        self.assertEqual(final - set(e.backups()), set())
        rc, out, err = e.run("--verify-backup",
                             os.path.join(e.bdir, e.backups()[0]))
        self.assertEqual(rc, 0, err)

    def test_second_backup_refused(self):
        e = self.env(db=SRC)
        e.slow_pg_dump("0.01")
        p = e.popen("--backup")
        e.wait_in_progress(self)
        rc, out, err = e.run("--backup")
        self.assertEqual(rc, 3, err)
        self.assertIn("another backup is running", err)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 3, err)
        self.assertIn("interrupted by signal", err.decode())
        self.assertEqual(leftovers(e.bdir), [])

    def test_pg_dump_killed(self):
        e = self.env(db=SRC)
        e.backup["pg_dump"] = wrapper(e.d.dir, KILLED_BODY)
        e.write()
        rc, out, err = e.run("--backup")
        self.assertEqual(rc, 3, err)
        self.assertIn("pg_dump killed by signal 9", err)
        self.assertEqual(leftovers(e.bdir), [])

    def test_killed_backup_temporary_removed_next_time(self):
        e = self.env(db=SRC)
        e.slow_pg_dump("0.01")
        p = e.popen("--backup")
        e.wait_in_progress(self)
        p.kill()
        p.communicate()
        e.backup["pg_dump"] = pg_bin("pg_dump")
        e.write()
        e.make_backup()
        self.assertEqual([n for n in leftovers(e.bdir)
                          if n.endswith(".tmp")], [])

    @unittest.skipUnless(os.getuid() == 0, "mounting a tmpfs needs root")
    def test_full_disk(self):
        e = self.env(db=SRC)
        small = os.path.join(e.d.dir, "small")
        os.mkdir(small, 0o700)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=256k,mode=0700", "tmpfs", small],
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % p.stderr)
        try:
            e.backup["directory"] = small
            e.write()
            rc, out, err = e.run("--backup")
            self.assertEqual(rc, 3, err)
            self.assertIn("No space left on device", err)
            self.assertEqual(leftovers(small), [])
        finally:
            subprocess.run(["umount", small])

    def test_password_only_in_environment(self):
        e = self.env()
        if "password_file" not in e.d.database_config():
            self.skipTest("the cluster needs no password here")
        log = os.path.join(e.d.dir, "argv.log")
        e.backup["pg_dump"] = wrapper(e.d.dir, (
            "open(%r, 'w').write(repr(ARGS) + '\\n' + "
            "os.environ.get('PGPASSWORD', '') + '\\n')\n"
            "os.execv(REAL, [REAL] + ARGS)\n") % log)
        e.write()
        e.make_backup()
        with open(os.path.join(CLUSTER.dir, "password")) as fp:
            password = fp.read().strip()
        with open(log) as fp:
            argv, env = fp.read().splitlines()
        self.assertNotIn(password, argv)
        self.assertIn("--format=custom", argv)
        self.assertEqual(env, password)

    def test_old_pg_dump_refused(self):
        e = self.env()
        path = os.path.join(e.d.dir, "old_pg_dump")
        with open(path, "w") as fp:
            fp.write("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
        os.chmod(path, 0o755)
        e.backup["pg_dump"] = path
        e.write()
        rc, out, err = e.run("--backup")
        self.assertEqual(rc, 3, err)
        self.assertIn("older than the server", err)
        self.assertEqual(leftovers(e.bdir), [])

    def test_retention(self):
        e = self.env(keep=2)
        names = [e.make_backup() for _ in range(4)]
        self.assertEqual(len(set(names)), 4)
        self.assertEqual(e.backups(), sorted(names)[-2:])
        files = sorted(leftovers(e.bdir))
        self.assertEqual(files, sorted(
            [n for n in names[-2:]] +
            [n + ".manifest.json" for n in names[-2:]]))

    def test_schedule(self):
        """every: 1m, the shortest allowed: the daemon makes a backup at
        start (none made yet), another a minute later; never two at once
        (the stand-in records start and end times)."""
        e = self.env()
        log = os.path.join(e.d.dir, "runs.log")
        e.backup["pg_dump"] = wrapper(e.d.dir, (
            "open(%r, 'a').write('start %%f\\n' %% time.time())\n"
            "rc = subprocess.call([REAL] + ARGS)\n"
            "time.sleep(1)\n"
            "open(%r, 'a').write('end %%f\\n' %% time.time())\n"
            "sys.exit(rc)\n") % (log, log))
        e.backup["every"] = "1m"
        e.write()
        e.d.start()
        try:
            deadline = time.monotonic() + 150
            while len(e.backups()) < 2:
                self.assertLess(time.monotonic(), deadline,
                                e.d.stderr_tail())
                time.sleep(0.5)
        finally:
            problems = e.d.stop()
        self.assertEqual(problems, [])
        with open(log) as fp:
            ev = [l.split() for l in fp.read().splitlines()]
        self.assertGreaterEqual(len(ev), 4)
        for i, (what, _) in enumerate(ev):
            self.assertEqual(what, "start" if i % 2 == 0 else "end", ev)
        starts = [float(t) for w, t in ev if w == "start"]
        self.assertGreaterEqual(starts[1] - starts[0], 55)
        text = e.d.stderr_text()
        self.assertIn("backup.start", text)
        self.assertIn("backup.success", text)

    def test_daemon_stop_during_backup(self):
        """SIGTERM to the daemon while its runner backs up: the runner
        stops, its temporary is removed, the daemon exits 0."""
        e = self.env(db=SRC)
        e.slow_pg_dump("0.05")
        e.d.start()
        try:
            e.wait_in_progress(self)
        finally:
            problems = e.d.stop()
        self.assertEqual(problems, [])
        self.assertEqual(leftovers(e.bdir), [])
        text = e.d.stderr_text()
        self.assertIn("backup.start", text)
        self.assertIn("backup.failure", text)

    def test_serving_while_backing_up(self):
        """Requests served by the workers while the daemon's runner backs
        up the same database all succeed."""
        e = self.env(db=SRC, routes=[harness.route(
            "one", "GET", "/one", sql="SELECT count(*) AS n FROM notes",
            result="object")])
        e.slow_pg_dump("0.02")
        e.d.start()
        statuses = []
        try:
            e.wait_in_progress(self)
            c = harness.tls_connect(e.d.port)
            try:
                while e.in_progress() and len(statuses) < 2000:
                    r = c.roundtrip("GET", "/one")
                    statuses.append(r.status)
                    if r.closes():
                        c.close()
                        c = harness.tls_connect(e.d.port)
            finally:
                c.close()
        finally:
            problems = e.d.stop()
        self.assertEqual(problems, [])
        self.assertGreater(len(statuses), 20)
        self.assertEqual(set(statuses), {200})

    @unittest.skipUnless(os.getuid() == 0, "changing owners needs root")
    def test_files_owned_as_directory(self):
        """--backup as root in a directory of another user: every file
        it creates belongs to that user and group, so the daemon running
        as that user can use them."""
        e = self.env()
        os.chown(e.bdir, 65534, 65534)
        e.make_backup()
        names = os.listdir(e.bdir)
        self.assertEqual(len(names), 4, names)
        for n in names:
            st = os.stat(os.path.join(e.bdir, n))
            self.assertEqual((st.st_uid, st.st_gid), (65534, 65534), n)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, n)


if __name__ == "__main__":
    unittest.main()
