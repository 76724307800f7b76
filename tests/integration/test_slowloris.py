"""
test_slowloris.py - 1,000 TLS connections that each send one header byte a
second are all closed at header_timeout (5 s) +- 1 s from their accept,
while a normal client is still served (SPEC 4 limits, SPEC 5 deadlines).

One thread drives every connection with non-blocking sockets, a selector
and ssl.SSLObject over memory BIOs, so handshakes proceed concurrently.
The accept time of a connection is taken as the moment connect() was
called: on loopback the kernel completes the TCP handshake at once and
queues the connection for accept, and the daemon's accept follows within
milliseconds (the moment this single thread notices the completion can lag
by the time it spends on other handshakes, so it is not used).  Connects
are spread over about a second so that the listen backlog never drops a
SYN (a retransmitted SYN would shift that connection's accept by a
second and show up here as a late close).
"""

import errno
import selectors
import socket
import ssl
import sys
import threading
import time
import unittest

import harness
from harness import Daemon, route

N = 1000
HEADER_TIMEOUT = 5.0
SLACK = 1.0
HEAD = b"GET /items HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"s" * 64


class Slow:
    __slots__ = ("sock", "obj", "inc", "out", "pending", "t_start",
                 "t_est", "t_closed", "handshaken", "sent", "got")

    def __init__(self, ctx):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out,
                                server_hostname="localhost")
        self.pending = b""
        self.t_start = time.monotonic()
        self.t_est = None
        self.t_closed = None
        self.handshaken = False
        self.sent = 0
        self.got = b""


class TestSlowloris(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        have = harness.raise_nofile(N + 512)
        if have < N + 64:
            raise unittest.SkipTest("RLIMIT_NOFILE %d is too low for %d "
                                    "connections" % (have, N))
        cls.daemon = Daemon(
            routes=[route("items_get", "GET", "/items")], workers=2,
            name="slowloris",
            config={"server": {"limits": {
                "header_timeout": "5s", "max_connections": 1100}}})
        cls.daemon.start_or_stop()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_and_check()

    def flush(self, c):
        c.pending += c.out.read()
        while c.pending:
            try:
                n = c.sock.send(c.pending)
            except BlockingIOError:
                return
            except OSError:
                self.mark_closed(c)
                return
            c.pending = c.pending[n:]

    def mark_closed(self, c):
        if c.t_closed is None:
            c.t_closed = time.monotonic()
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()

    def step_handshake(self, c):
        try:
            c.obj.do_handshake()
            c.handshaken = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            self.flush(c)
            self.mark_closed(c)
            return
        self.flush(c)

    def on_event(self, c, mask):
        if c.t_closed is not None:
            return
        if c.t_est is None:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.mark_closed(c)
                return
            c.t_est = time.monotonic()
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            self.step_handshake(c)
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.mark_closed(c)
            return
        if not data:
            self.mark_closed(c)
            return
        c.inc.write(data)
        if not c.handshaken:
            self.step_handshake(c)
            return
        try:
            while True:
                b = c.obj.read(65536)
                if not b:
                    break
                c.got += b
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLZeroReturnError, ssl.SSLError):
            self.mark_closed(c)

    def normal_client(self, result):
        try:
            t0 = time.monotonic()
            r = self.daemon.request("GET", "/items", timeout=3)
            result["status"] = r.status
            result["took"] = time.monotonic() - t0
        except Exception as e:      # noqa: BLE001 - reported by the test
            result["error"] = repr(e)

    def test_slowloris(self):
        ctx = harness.client_context()
        self.sel = selectors.DefaultSelector()
        conns = []
        t0 = time.monotonic()
        normal = {}
        normal_thread = None
        last_tick = t0
        while True:
            now = time.monotonic()
            # connect 100 every 100 ms
            want = min(N, int((now - t0) / 0.1 + 1) * 100)
            while len(conns) < want:
                c = Slow(ctx)
                rc = c.sock.connect_ex(("127.0.0.1", self.daemon.port))
                if rc not in (0, errno.EINPROGRESS):
                    self.fail("connect failed: %s" % errno.errorcode[rc])
                self.sel.register(c.sock, selectors.EVENT_WRITE, c)
                conns.append(c)
            # one byte a second on every handshaken connection
            if now - last_tick >= 1.0:
                last_tick = now
                for c in conns:
                    if c.handshaken and c.t_closed is None and \
                            c.sent < len(HEAD):
                        c.obj.write(HEAD[c.sent:c.sent + 1])
                        c.sent += 1
                        self.flush(c)
            if normal_thread is None and now - t0 > 2.5:
                normal_thread = threading.Thread(target=self.normal_client,
                                                 args=(normal,))
                normal_thread.start()
            open_ = [c for c in conns if c.t_closed is None]
            if len(conns) == N and not open_:
                break
            if now - t0 > 1.0 + HEADER_TIMEOUT + 4 * SLACK:
                break
            for key, mask in self.sel.select(timeout=0.05):
                self.on_event(key.data, mask)
        for c in conns:
            if c.t_closed is None:
                c.sock.close()
        self.sel.close()
        normal_thread.join()

        never = [c for c in conns if c.t_est is None]
        unclosed = [c for c in conns if c.t_closed is None]
        offs = sorted(c.t_closed - c.t_start for c in conns
                      if c.t_est is not None and c.t_closed is not None)
        early = [o for o in offs if o < HEADER_TIMEOUT - SLACK]
        late = [o for o in offs if o > HEADER_TIMEOUT + SLACK]
        shaken = sum(1 for c in conns if c.handshaken)
        answered = sum(1 for c in conns if c.got)
        sys.stderr.write(
            "\n  slowloris: %d connections, %d handshaken, %d closed; close "
            "after accept min %.2fs median %.2fs max %.2fs; %d sent bytes "
            "before close (408 or alert); normal client %s " % (
                len(conns), shaken, len(offs), offs[0] if offs else -1,
                offs[len(offs) // 2] if offs else -1,
                offs[-1] if offs else -1, answered, normal))
        self.assertEqual(len(never), 0, "%d connects never completed" %
                         len(never))
        self.assertEqual(len(unclosed), 0, "%d connections still open %.0fs "
                         "after connecting" % (len(unclosed),
                                               HEADER_TIMEOUT + 3))
        self.assertGreater(shaken, N * 0.9, "most handshakes failed")
        self.assertFalse(early, "%d closed before header_timeout - 1s: %s" %
                         (len(early), early[:10]))
        self.assertFalse(late, "%d closed after header_timeout + 1s: %s" %
                         (len(late), late[-10:]))
        self.assertNotIn("error", normal)
        self.assertEqual(normal.get("status"), 503)


if __name__ == "__main__":
    unittest.main()
