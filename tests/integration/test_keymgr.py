"""
test_keymgr.py - the key manager (SPEC 11): the JWT signing key lives in a
child of the master, never in the workers.

Two daemons share one real PostgreSQL, one with an Ed25519 signing key and
one with a P-256 key.  Covered: a login answers a token whose signature
verifies (with `openssl pkeyutl`/`openssl dgst` against the public key) and
that the daemon accepts; the key manager runs under a seccomp filter of
its own (/proc/PID/status: Seccomp 2, more Seccomp_filters than the
master), and still signs; the key manager killed with SIGKILL is replaced,
filtered again, and logins work again; the raw private key (the Ed25519 seed, the P-256
scalar, also byte-reversed) is found in no worker's memory and not in the
master's, after start-up and after a login, but is found in the key
manager's (the positive control).  The same holds for the TLS private key
(tlskey.c): the daemons' own P-256 key, and one daemon per other key type
(P-384 scalar, Ed25519 seed, RSA-2048 private exponent and first prime,
also byte-reversed), after start-up and after full handshakes.  The memory test reads /proc/PID/mem
through /proc/PID/maps and needs root (CAP_SYS_PTRACE: the processes are
not dumpable); it is skipped with the reason otherwise.

Environment: BULWARKD; PostgreSQL server binaries, psql; openssl(1).
Python 3 standard library only.
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
import pg
import test_tlskey

CLUSTER = None
DAEMONS = {}
KEYS = {}
PASSWORD = "correct horse battery " + secrets.token_hex(8)
LOGIN = "/auth/login"
ME = "/auth/me"
ROUTES = [{"name": "who", "method": "GET", "path": "/who",
           "roles": ["reader"], "sql": "SELECT :user.name AS name"}]


def b64u(seg):
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def auth_config(keyfile):
    return pg.auth_config(keyfile, pool_threads=1)


def raw_private(keyfile, kind):
    """The raw private key bytes of a PKCS#8 PEM file."""
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-outform",
                          "DER"], stdout=subprocess.PIPE, check=True,
                         timeout=30).stdout
    if kind == "ed25519":
        return der[-32:]
    # ECPrivateKey: INTEGER 1, OCTET STRING of the scalar (32 or 48 bytes).
    n = 48 if kind == "p384" else 32
    i = der.index(b"\x02\x01\x01\x04" + bytes([n]))
    return der[i + 5:i + 5 + n]


def rsa_secrets(keyfile):
    """An RSA key's private exponent and first prime (big-endian)."""
    text = subprocess.run(["openssl", "pkey", "-in", keyfile, "-text",
                           "-noout"], stdout=subprocess.PIPE, check=True,
                          timeout=30).stdout.decode()
    out = []
    for field in ("privateExponent", "prime1"):
        m = re.search(field + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
        out.append(bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
                   .lstrip(b"\0"))
    return out


def tls_needles(keyfile, kind):
    """The TLS key's raw secrets, as they may lie in memory."""
    raws = rsa_secrets(keyfile) if kind == "rsa2048" else \
        [raw_private(keyfile, kind)]
    if kind == "ed25519":
        return raws
    return raws + [r[::-1] for r in raws]


def setUpModule():
    global CLUSTER
    harness.require_binary()
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("openssl(1) is not installed")
    CLUSTER = pg.Cluster.start()
    try:
        for kind in ("ed25519", "es256"):
            d = pg.PgDaemon(CLUSTER, routes=ROUTES, name="keymgr-" + kind)
            keyfile = os.path.join(d.dir, "jwt.pem")
            harness.gen_key(kind, keyfile)
            d.write_config({"auth": auth_config(keyfile),
                            "roles": {"reader": {}}}, ROUTES)
            DAEMONS[kind] = d
            KEYS[kind] = keyfile
        d = DAEMONS["ed25519"]
        rc, _, err = d.admin("--init-db")
        if rc != 0:
            raise AssertionError("--init-db: %d %s" % (rc, err))
        rc, _, err = d.admin("--add-user", "alice", "--roles", "reader",
                            stdin=(PASSWORD + "\n").encode())
        if rc != 0:
            raise AssertionError("--add-user: %d %s" % (rc, err))
        for d in DAEMONS.values():
            d.start()
            d.wait_db_ready(ME, want=401)
            wait_login(d)
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER
    try:
        for d in DAEMONS.values():
            if d.proc is not None:
                d.stop_and_check()
    finally:
        for d in DAEMONS.values():
            d.cleanup()
        DAEMONS.clear()
        if CLUSTER is not None:
            CLUSTER.destroy()
            CLUSTER = None


def wait_login(d):
    """Until 2 * workers logins in a row succeed; the last response."""
    return d.wait_served(lambda: pg.login(d, "alice", PASSWORD),
                         what="logins")


def log_records(d):
    out = []
    for line in d.stderr_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def keymgr_pids(d):
    return d.keymgr_pids()


def worker_pids(d):
    pids = []
    for rec in log_records(d):
        m = re.match(r"worker \d+ started \(pid (\d+),",
                     rec.get("message", ""))
        if m and harness.proc_state(int(m.group(1))) not in (None, "Z"):
            pids.append(int(m.group(1)))
    return pids


def verify_openssl(token, keyfile, kind):
    """The token's signature, checked by openssl(1) with the public key."""
    h, p, s = token.split(".")
    sig = b64u(s)
    with tempfile.TemporaryDirectory() as tmp:
        pub = os.path.join(tmp, "pub.pem")
        subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout",
                        "-out", pub], check=True, timeout=30)
        data = os.path.join(tmp, "data")
        with open(data, "wb") as fp:
            fp.write((h + "." + p).encode())
        sigf = os.path.join(tmp, "sig")
        if kind == "ed25519":
            with open(sigf, "wb") as fp:
                fp.write(sig)
            cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                   pub, "-rawin", "-in", data, "-sigfile", sigf]
        else:
            with open(sigf, "wb") as fp:
                fp.write(der_ecdsa(sig))
            cmd = ["openssl", "dgst", "-sha256", "-verify", pub,
                   "-signature", sigf, data]
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              timeout=30).returncode == 0


def der_ecdsa(raw):
    def integer(b):
        b = b.lstrip(b"\0") or b"\0"
        if b[0] & 0x80:
            b = b"\0" + b
        return b"\x02" + bytes([len(b)]) + b
    body = integer(raw[:32]) + integer(raw[32:])
    return b"\x30" + bytes([len(body)]) + body


def token_kid(tok):
    return json.loads(b64u(tok.split(".")[0]))["kid"]


class TestReload(unittest.TestCase):

    def test_sighup_renews_the_key(self):
        """A new signing key on SIGHUP reaches the key manager; the
        workers of the new generation sign with it and accept tokens of
        the old key listed in verify_key_files."""
        d = DAEMONS["es256"]
        old = pg.login(d, "alice", PASSWORD)
        self.assertEqual(old.status, 200)
        old_tok = old.json()["access_token"]
        newkey = os.path.join(d.dir, "jwt2.pem")
        harness.gen_key("es256", newkey)
        conf = auth_config(newkey)
        conf["verify_key_files"] = [KEYS["es256"]]
        d.write_config({"auth": conf, "roles": {"reader": {}}}, ROUTES)
        d.signal(signal.SIGHUP)
        deadline = time.monotonic() + 20 * harness.SLOW
        while not re.search(r"serving with \d+ workers \(generation 2\)",
                            d.stderr_text()):
            self.assertLess(time.monotonic(), deadline, d.stderr_tail())
            time.sleep(0.1)
        KEYS["es256"] = newkey
        r = wait_login(d)
        tok = r.json()["access_token"]
        self.assertNotEqual(token_kid(tok), token_kid(old_tok))
        self.assertTrue(verify_openssl(tok, newkey, "es256"))
        me = d.request("GET", ME, headers=[("Authorization",
                                            "Bearer " + old_tok)])
        self.assertEqual(me.status, 200, me)


class TestSigning(unittest.TestCase):

    def check_login(self, kind):
        d = DAEMONS[kind]
        r = pg.login(d, "alice", PASSWORD)
        self.assertEqual(r.status, 200, r)
        tok = r.json()["access_token"]
        hdr = json.loads(b64u(tok.split(".")[0]))
        self.assertEqual(hdr["alg"], "EdDSA" if kind == "ed25519" else
                         "ES256")
        self.assertTrue(verify_openssl(tok, KEYS[kind], kind))
        bad = tok[:-2] + ("A" if tok[-2] != "A" else "B") + tok[-1]
        self.assertFalse(verify_openssl(bad, KEYS[kind], kind))
        me = d.request("GET", ME, headers=[("Authorization",
                                            "Bearer " + tok)])
        self.assertEqual(me.status, 200, me)

    def test_login_eddsa(self):
        self.check_login("ed25519")

    def test_login_es256(self):
        self.check_login("es256")

    def test_key_manager_stopped_answers_503(self):
        """No signature within the deadline (1 s): 503, then logins work
        again once the key manager answers."""
        d = DAEMONS["ed25519"]
        pid = keymgr_pids(d)[-1]
        # The handshake needs the key manager too (its TLS key): first.
        with d.connect() as conn:
            os.kill(pid, signal.SIGSTOP)
            try:
                t0 = time.monotonic()
                r = conn.roundtrip(
                    "POST", LOGIN, headers=pg.json_headers(),
                    body=json.dumps({"username": "alice",
                                     "password": PASSWORD}).encode(),
                    timeout=10.0)
                took = time.monotonic() - t0
            finally:
                os.kill(pid, signal.SIGCONT)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.header("Content-Type"),
                         "application/problem+json")
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 4.0 * harness.SLOW)
        self.assertEqual(wait_login(d).status, 200)

    def test_key_manager_killed_is_replaced(self):
        d = DAEMONS["ed25519"]
        before = keymgr_pids(d)
        self.assertTrue(before, d.stderr_tail())
        os.kill(before[-1], signal.SIGKILL)
        deadline = time.monotonic() + 10 * harness.SLOW
        while len(keymgr_pids(d)) == len(before):
            self.assertLess(time.monotonic(), deadline, d.stderr_tail())
            time.sleep(0.05)
        self.assertNotEqual(keymgr_pids(d)[-1], before[-1])
        wait_login(d)
        self.assertEqual(pg.login(d, "alice", PASSWORD).status, 200)
        self.assertIsNone(d.proc.poll())
        harness.assert_own_filter(self, keymgr_pids(d)[-1], d.pid)

    def test_key_manager_has_its_own_filter(self):
        """Each key manager (Ed25519, P-256) signs under a seccomp filter
        of its own, stacked on whatever the master has."""
        for kind in DAEMONS:
            with self.subTest(kind=kind):
                d = DAEMONS[kind]
                harness.assert_own_filter(self, keymgr_pids(d)[-1], d.pid)
                self.check_login(kind)
                self.assertIsNotNone(harness.proc_state(
                    keymgr_pids(d)[-1]))


# A mapping larger than this is not process data worth reading (sanitizer
# shadow memory reserves terabytes); data is read in pieces of CHUNK bytes.
MAPPING_MAX = 1 << 30
CHUNK = 16 << 20


def memory_holds(pid, needles):
    """Whether any readable mapping of pid holds one of needles."""
    overlap = max(len(n) for n in needles) - 1
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if not parts[1].startswith("r"):
                continue
            name = parts[5] if len(parts) > 5 else ""
            if name.startswith("[vvar") or name.startswith("[vsyscall"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo > MAPPING_MAX:
                continue
            tail = b""
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(CHUNK, hi - at))
                except (OSError, OverflowError, ValueError):
                    break
                if any(n in data for n in needles):
                    return True
                tail = data[-overlap:] if overlap > 0 else b""
    return False


class TestWorkerMemory(unittest.TestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("reading another process's memory needs root")
        if harness.is_sanitized():
            self.skipTest("under ASan the allocator's layout differs; the "
                          "plain build's run of this test is the one "
                          "that counts")
        pid = keymgr_pids(DAEMONS["ed25519"])[-1]
        try:
            with open("/proc/%d/mem" % pid, "rb", 0) as fp:
                fp.read(0)
        except OSError as e:
            self.skipTest("ptrace access to /proc/PID/mem is not "
                          "allowed here: %s" % e)

    def check(self, kind):
        d = DAEMONS[kind]
        raw = raw_private(KEYS[kind], kind)
        needles = [raw] if kind == "ed25519" else [raw, raw[::-1]]
        tls = tls_needles(d.key, "p256")

        def found(pid):
            return memory_holds(pid, needles)

        def found_tls(pid):
            return memory_holds(pid, tls)

        for phase in ("start-up", "login"):
            if phase == "login":
                for _ in range(2 * d.workers):
                    self.assertEqual(
                        pg.login(d, "alice", PASSWORD).status, 200)
            workers = worker_pids(d)
            self.assertEqual(len(workers), d.workers, d.stderr_tail())
            for pid in workers:
                self.assertFalse(found(pid), "%s key in worker %d (%s)" %
                                 (kind, pid, phase))
            self.assertFalse(found(d.proc.pid),
                             "%s key in the master (%s)" % (kind, phase))
            self.assertTrue(found(keymgr_pids(d)[-1]),
                            "positive control: the key manager holds it")
            for pid in workers + [d.proc.pid]:
                self.assertFalse(found_tls(pid), "TLS key in pid %d (%s)" %
                                 (pid, phase))
            self.assertTrue(found_tls(keymgr_pids(d)[-1]),
                            "positive control: the key manager holds the "
                            "TLS key")

    def test_no_eddsa_key_in_workers(self):
        self.check("ed25519")

    def test_no_es256_key_in_workers(self):
        self.check("es256")


class TestTlsKeyMemory(unittest.TestCase):
    """The TLS private key of each type the server accepts: in the key
    manager only, after start-up and after full handshakes."""

    setUp = TestWorkerMemory.setUp

    def check(self, kind):
        d = test_tlskey.tls_daemon(kind, "tlsmem-" + kind)
        try:
            d.start(wait=False)
            test_tlskey.wait_handshakes(d, self)
            needles = tls_needles(d.config["server"]["tls"]["private_key"],
                                  kind)
            for phase in ("start-up", "handshakes"):
                if phase == "handshakes":
                    for v in (test_tlskey.ssl.TLSVersion.TLSv1_3,
                              test_tlskey.ssl.TLSVersion.TLSv1_2):
                        for _ in range(2 * d.workers):
                            test_tlskey.handshake(d.port, d.cert_file, v)
                workers = worker_pids(d)
                self.assertEqual(len(workers), d.workers, d.stderr_tail())
                for pid in workers + [d.proc.pid]:
                    self.assertFalse(memory_holds(pid, needles),
                                     "%s TLS key in pid %d (%s)" %
                                     (kind, pid, phase))
                self.assertTrue(memory_holds(keymgr_pids(d)[-1], needles),
                                "positive control: the key manager holds "
                                "the %s key" % kind)
        finally:
            d.stop_and_check(self)
            d.cleanup()

    def test_p384(self):
        self.check("p384")

    def test_ed25519(self):
        self.check("ed25519")

    def test_rsa2048(self):
        self.check("rsa2048")


if __name__ == "__main__":
    unittest.main()
