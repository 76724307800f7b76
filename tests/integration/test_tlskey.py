"""
test_tlskey.py - the TLS private key stays in the key manager (SPEC 11):
the workers sign their handshakes through it (tlskey.c, keymgr_tls.c).

One daemon per key type (EC P-256 and P-384, Ed25519, RSA-2048), no
database.  Covered: full handshakes (no resumption) with TLS 1.3 and TLS
1.2 succeed against a client that verifies the certificate, so the
server's CertificateVerify (TLS 1.3) or ServerKeyExchange signature (TLS
1.2) verified under the certificate's key; a key that does not match the
certificate is refused at start with the clear error; SIGHUP to a new
certificate and key pair (of another type) serves the new pair; the key
manager stopped (SIGSTOP) makes a full handshake fail after the deadline
(500 ms) and not hang, and the worker logs why; the key manager killed
(SIGKILL) is replaced and later handshakes succeed; a key file replaced in
place before a key manager restart is reported (and, with the old
certificate, fails the client's signature check) until a reload serves
the new pair.  The memory test for the TLS keys is in test_keymgr.py.

Environment: BULWARKD; openssl(1).  Python 3 standard library only.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest

import harness
from harness import Daemon

KINDS = {
    "p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "ed25519": ["-newkey", "ed25519"],
    "rsa2048": ["-newkey", "rsa:2048"],
}


def make_pair(directory, kind, stem):
    """A self-signed certificate for localhost with a key of kind."""
    cert = os.path.join(directory, stem + ".crt")
    key = os.path.join(directory, stem + ".key")
    subprocess.run(["openssl", "req", "-x509"] + KINDS[kind] +
                   ["-nodes", "-keyout", key, "-out", cert, "-days", "3",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=60, env=harness.child_env())
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def handshake(port, cafile, version, timeout=5.0):
    """One full handshake verified against cafile; the server's
    certificate (DER)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.minimum_version = version
    ctx.maximum_version = version
    ctx.options |= ssl.OP_NO_TICKET
    with socket.create_connection(("127.0.0.1", port), timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def cert_der(path):
    with open(path) as fp:
        return ssl.PEM_cert_to_DER_cert(fp.read())


def wait_handshakes(d, tc, timeout=10.0):
    """Until 2 * workers full handshakes in a row verify against
    d.cert_file."""
    deadline = time.monotonic() + timeout * harness.SLOW
    ok = 0
    while ok < 2 * d.workers:
        tc.assertIsNone(d.proc.poll(), d.stderr_tail())
        try:
            handshake(d.port, d.cert_file, ssl.TLSVersion.TLSv1_3)
            ok += 1
        except (OSError, ssl.SSLError) as e:
            ok = 0
            tc.assertLess(time.monotonic(), deadline,
                          "%s\n%s" % (e, d.stderr_tail()))
            time.sleep(0.05)


def tls_daemon(kind, name):
    d = Daemon(name=name)
    cert, key = make_pair(d.dir, kind, kind)
    d.write_config({"server": {"tls": {"certificate": cert,
                                       "private_key": key}}})
    d.cert_file = cert
    return d


def setUpModule():
    harness.require_binary()
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("openssl(1) is not installed")


class TestKeyTypes(unittest.TestCase):
    """Each key type the server accepts, TLS 1.3 and 1.2."""

    def check(self, kind):
        d = tls_daemon(kind, "tlskey-" + kind)
        try:
            d.start(wait=False)
            wait_handshakes(d, self)
            want = cert_der(d.cert_file)
            for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
                for _ in range(2 * d.workers):
                    self.assertEqual(handshake(d.port, d.cert_file,
                                               version), want)
            self.assertTrue(d.keymgr_pids(), d.stderr_tail())
        finally:
            d.stop_and_check(self)
            d.cleanup()

    def test_p256(self):
        self.check("p256")

    def test_p384(self):
        self.check("p384")

    def test_ed25519(self):
        self.check("ed25519")

    def test_rsa2048(self):
        self.check("rsa2048")


class TestMismatch(unittest.TestCase):

    def test_wrong_key_refused_at_start(self):
        """A key that is not the certificate's: bulwarkd does not start
        and says so."""
        d = Daemon(name="tlskey-mismatch")
        try:
            cert, _ = make_pair(d.dir, "p256", "a")
            _, key = make_pair(d.dir, "p256", "b")
            d.write_config({"server": {"tls": {"certificate": cert,
                                               "private_key": key}}})
            d.start(wait=False)
            rc = d.wait_exit(20 * harness.SLOW)
            self.assertIsNotNone(rc, "bulwarkd kept running")
            self.assertNotEqual(rc, 0)
            self.assertIn("the private key does not match the certificate",
                          d.stderr_text())
        finally:
            d.stop()
            d.cleanup()


class TestLive(unittest.TestCase):
    """Reload and key manager restarts on one daemon."""

    @classmethod
    def setUpClass(cls):
        cls.d = tls_daemon("p256", "tlskey-live")
        try:
            cls.d.start(wait=False)
            wait_handshakes(cls.d, unittest.TestCase())
        except BaseException:
            cls.d.stop()
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_and_check()
        cls.d.cleanup()

    def wait_handshakes(self):
        wait_handshakes(self.d, self)

    def test_key_manager_stopped_fails_within_deadline(self):
        d = self.d
        self.wait_handshakes()
        pid = d.keymgr_pids()[-1]
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            with self.assertRaises((OSError, ssl.SSLError)):
                handshake(d.port, d.cert_file, ssl.TLSVersion.TLSv1_3,
                          timeout=10.0)
            took = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertGreaterEqual(took, 0.45)
        self.assertLess(took, 3.0 * harness.SLOW)
        self.assertIn("did not answer within 500 ms", d.stderr_text())
        self.wait_handshakes()

    def test_key_manager_killed_then_handshakes_succeed(self):
        d = self.d
        before = d.keymgr_pids()
        os.kill(before[-1], signal.SIGKILL)
        deadline = time.monotonic() + 10 * harness.SLOW
        while len(d.keymgr_pids()) == len(before):
            self.assertLess(time.monotonic(), deadline, d.stderr_tail())
            time.sleep(0.05)
        self.wait_handshakes()
        self.assertIsNone(d.proc.poll())

    def test_reload_serves_new_pair(self):
        """SIGHUP with a new certificate and an Ed25519 key: served."""
        d = self.d
        gen = len(re.findall(r"serving with \d+ workers", d.stderr_text()))
        cert, key = make_pair(d.dir, "ed25519", "reload")
        d.write_config({"server": {"tls": {"certificate": cert,
                                           "private_key": key}}})
        d.signal(signal.SIGHUP)
        deadline = time.monotonic() + 20 * harness.SLOW
        while len(re.findall(r"serving with \d+ workers",
                             d.stderr_text())) <= gen:
            self.assertLess(time.monotonic(), deadline, d.stderr_tail())
            time.sleep(0.1)
        d.cert_file = cert
        self.wait_handshakes()
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            self.assertEqual(handshake(d.port, cert, version),
                             cert_der(cert))


class TestChangedFile(unittest.TestCase):

    def test_restart_with_changed_key_file(self):
        """The key file replaced in place, then the key manager killed:
        the restarted key manager gets the new key under the old handle,
        which the master reports; a reload serves the new pair."""
        d = tls_daemon("p256", "tlskey-changed")
        try:
            d.start(wait=False)
            wait_handshakes(d, self)
            cert, key = d.cert_file, d.config["server"]["tls"]["private_key"]
            tmp = os.path.join(d.dir, "new")
            os.mkdir(tmp)
            ncert, nkey = make_pair(tmp, "p384", "new")
            old = os.path.join(tmp, "old.crt")
            shutil.copy(cert, old)
            shutil.copy(nkey, key)
            shutil.copy(ncert, cert)
            before = d.keymgr_pids()
            os.kill(before[-1], signal.SIGKILL)
            deadline = time.monotonic() + 10 * harness.SLOW
            while "the key changed since it was loaded" not in \
                    d.stderr_text():
                self.assertLess(time.monotonic(), deadline, d.stderr_tail())
                time.sleep(0.05)
            # The old certificate served, signed with the new key: the
            # client's check of the signature fails.
            with self.assertRaises((OSError, ssl.SSLError)):
                handshake(d.port, old, ssl.TLSVersion.TLSv1_3)
            d.signal(signal.SIGHUP)
            wait_handshakes(d, self, timeout=20.0)
            self.assertEqual(handshake(d.port, cert, ssl.TLSVersion.TLSv1_2),
                             cert_der(cert))
        finally:
            d.stop_and_check(self)
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
