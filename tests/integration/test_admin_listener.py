"""
test_admin_listener.py - the admin listener's connection table (SPEC 12,
bulwarkd(8)): idle connections cannot keep a health probe out.

Any local process can connect to the admin listener.  With more idle
connections held open than the table has room for (ADMIN_MAX_CONNS, 64),
GET /healthz on a new connection is still answered 200: a new connection
closes the oldest unanswered one instead of being refused.  The idle
connections that made room are closed by the listener, and no more than 64
are ever held open.

Environment: BULWARKD.  Python 3 standard library only.
"""

import socket
import time
import unittest

import harness

MAX_CONNS = 64      # ADMIN_MAX_CONNS in src/admin.h


def healthz(port, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data else None


def closed_by_peer(s):
    """True when the listener has closed s (EOF or reset), without
    waiting."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


class TestIdleConnections(unittest.TestCase):

    def setUp(self):
        self.admin_port = harness.free_port()
        self.d = harness.Daemon(config={"admin": {
            "listen": "127.0.0.1:%d" % self.admin_port}}, workers=1,
            name="adminconn")
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.addCleanup(self.d.stop_and_check, self)
        deadline = time.monotonic() + 15 * harness.SLOW
        while True:
            try:
                if healthz(self.admin_port) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("/healthz never 200:\n%s" %
                                     self.d.stderr_tail())
            time.sleep(0.1)

    def test_probe_answered_past_idle_connections(self):
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(MAX_CONNS + 16):
            s = socket.create_connection(("127.0.0.1", self.admin_port),
                                         timeout=5.0)
            s.sendall(b"GET /healthz HTTP/1.1\r\n")    # never finished
            idle.append(s)
        time.sleep(0.3)
        for _ in range(3):
            self.assertEqual(healthz(self.admin_port), 200)
        time.sleep(0.2)
        # The oldest idle connections were closed to make room (16, then
        # one for the first probe; the others found the first's slot
        # free), the newest are still held.
        closed = [closed_by_peer(s) for s in idle]
        self.assertEqual(closed, [True] * 17 + [False] * (MAX_CONNS - 1))
        # Their deadline closes the rest (ADMIN_TIMEOUT_MS, 5 s).
        time.sleep(4.5)
        deadline = time.monotonic() + 5 * harness.SLOW
        while not all(closed_by_peer(s) for s in idle):
            self.assertLess(time.monotonic(), deadline,
                            "idle connections held past their deadline")
            time.sleep(0.1)
        self.assertEqual(healthz(self.admin_port), 200)


if __name__ == "__main__":
    unittest.main()
