"""
test_tls.py - SPEC 11 TLS settings of a running bulwarkd.

Run with OPENSSL_CONF=/dev/null (run.py sets it for this process and the
children), so that neither the daemon nor the clients read the system
openssl.cnf: the daemon must set its own protocol range, ciphers and
groups.
"""

import re
import socket
import ssl
import subprocess
import time
import unittest

import harness
from harness import Daemon, route

AEAD_TLS12 = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
              "ECDHE-ECDSA-CHACHA20-POLY1305")


def s_client(port, args, stdin=b"", timeout=15, hold=0.0):
    """openssl s_client against the daemon; returns its output (stdout and
    stderr together).  hold: seconds to keep stdin open after writing."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
           "-servername", "localhost"] + args
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=harness.child_env())
    try:
        if stdin:
            p.stdin.write(stdin)
            p.stdin.flush()
        if hold:
            time.sleep(hold)
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out.decode("utf-8", "replace")


class TlsCase(unittest.TestCase):
    config = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(config=cls.config,
                            routes=[route("items_get", "GET", "/items")],
                            name=cls.__name__.lower())
        cls.daemon.start_or_stop()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_and_check()

    def handshake(self, **ctxkw):
        ctx = harness.client_context(**ctxkw)
        return self.daemon.connect(context=ctx)


class TestTls(TlsCase):

    def test_tls12_and_tls13(self):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.handshake(min_version=v, max_version=v) as c:
                self.assertEqual(c.sock.version(),
                                 {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                  ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v])
                name = c.sock.cipher()[0]
                if v == ssl.TLSVersion.TLSv1_2:
                    self.assertIn(name, AEAD_TLS12)
                else:
                    self.assertIn(name, ("TLS_AES_128_GCM_SHA256",
                                         "TLS_AES_256_GCM_SHA384",
                                         "TLS_CHACHA20_POLY1305_SHA256"))
                self.assertEqual(c.roundtrip("GET", "/items").status, 503)

    def test_old_protocols_alert(self):
        for flag in ("-tls1_1", "-tls1"):
            out = s_client(self.daemon.port, [flag, "-cipher",
                                              "DEFAULT:@SECLEVEL=0"])
            self.assertIn("alert protocol version", out, flag)

    def test_non_aead_and_non_ecdhe_refused(self):
        for cipher in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                       "ECDHE-ECDSA-AES128-SHA256",
                       "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256",
                       "DHE-RSA-AES128-GCM-SHA256"):
            with self.assertRaises((ssl.SSLError, OSError), msg=cipher):
                c = self.handshake(max_version=ssl.TLSVersion.TLSv1_2,
                                   ciphers=cipher)
                c.close()
        for cipher in AEAD_TLS12:
            with self.handshake(max_version=ssl.TLSVersion.TLSv1_2,
                                ciphers=cipher) as c:
                self.assertEqual(c.sock.cipher()[0], cipher)

    def test_s_client_non_aead_refused(self):
        out = s_client(self.daemon.port, ["-tls1_2", "-cipher",
                                          "ECDHE-ECDSA-AES128-SHA:"
                                          "ECDHE-RSA-AES128-SHA"])
        self.assertIn("handshake failure", out)

    def test_groups(self):
        for g in ("X25519", "P-256", "P-384"):
            out = s_client(self.daemon.port, ["-tls1_3", "-groups", g])
            self.assertRegex(out, r"New, TLSv1\.3, Cipher is TLS_", g)
        out = s_client(self.daemon.port, ["-tls1_3", "-groups", "P-521"])
        self.assertIn("Cipher is (NONE)", out, "P-521 only was accepted")

    def test_renegotiation_refused(self):
        out = s_client(self.daemon.port, ["-tls1_2", "-msg"],
                       stdin=b"R\n", hold=1.5)
        self.assertIn("RENEGOTIATING", out, "s_client did not try")
        hellos = re.findall(r"<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], "
                            r"ServerHello$", out, re.M)
        self.assertEqual(len(hellos), 1,
                         "renegotiation completed:\n" + out[-3000:])
        self.assertRegex(out, "no_renegotiation|no renegotiation")

    def test_plaintext_http_to_tls_port(self):
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.settimeout(5)
        s.sendall(b"GET /items HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        t0 = time.monotonic()
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
        except ConnectionResetError:
            pass
        except socket.timeout:
            self.fail("plaintext connection not closed")
        s.close()
        self.assertLess(time.monotonic() - t0, 5)
        self.assertNotIn(b"HTTP/", data)
        if data:
            self.assertEqual(data[0], 0x15, "not a TLS alert: %r" % data[:20])

    def resumption(self, version):
        ctx = harness.client_context(min_version=version,
                                     max_version=version)
        with self.daemon.connect(context=ctx) as c:
            self.assertEqual(c.roundtrip("GET", "/items").status, 503)
            sess = c.sock.session
            self.assertFalse(c.sock.session_reused)
        self.assertTrue(sess.has_ticket, "no session ticket issued")
        workers = set()
        for _ in range(12):
            with self.daemon.connect(context=ctx, session=sess) as c:
                self.assertTrue(c.sock.session_reused,
                                "session not resumed")
                self.assertEqual(c.roundtrip("GET", "/items").status, 503)
                w = self.daemon.worker_of(c)
                if w is not None:
                    workers.add(w)
        return workers

    def test_ticket_resumption_tls13(self):
        workers = self.resumption(ssl.TLSVersion.TLSv1_3)
        if self.daemon.workers > 1 and workers:
            self.assertGreater(len(workers), 1,
                               "all resumptions landed on one worker")

    def test_ticket_resumption_tls12(self):
        workers = self.resumption(ssl.TLSVersion.TLSv1_2)
        if self.daemon.workers > 1 and workers:
            self.assertGreater(len(workers), 1,
                               "all resumptions landed on one worker")


class TestTlsModern(TlsCase):
    config = {"server": {"tls": {"profile": "modern"}}}

    def test_modern_refuses_tls12(self):
        with self.assertRaises(ssl.SSLError):
            c = self.handshake(max_version=ssl.TLSVersion.TLSv1_2)
            c.close()
        out = s_client(self.daemon.port, ["-tls1_2"])
        self.assertIn("alert protocol version", out)

    def test_modern_serves_tls13(self):
        with self.handshake(min_version=ssl.TLSVersion.TLSv1_3) as c:
            self.assertEqual(c.sock.version(), "TLSv1.3")
            self.assertEqual(c.roundtrip("GET", "/items").status, 503)


if __name__ == "__main__":
    unittest.main()
