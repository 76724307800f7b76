"""
test_http.py - SPEC 5 HTTP behaviour of a running bulwarkd, over TLS.

Routes have no database behind them (the configured one is an empty Unix
socket directory), so a request that passes every check up to the SQL step
is answered 503 "database unavailable": a 503 here means "accepted".
"""

import re
import socket
import time
import unittest

import harness
from harness import Closed, Daemon, route

HEX32 = re.compile(r"^[0-9a-f]{32}$")

ROUTES = [
    route("items_get", "GET", "/items"),
    route("items_post", "POST", "/items"),
    route("items_put", "PUT", "/items"),
    route("small_post", "POST", "/small", max_body_size="1KiB"),
    route("typed_post", "POST", "/typed", body={
        "type": "object", "required": ["title"],
        "properties": {"title": {"type": "string"}}}),
    route("note_get", "GET", "/notes/{id}",
          params={"id": {"type": "integer", "minimum": 1}}),
    route("search_get", "GET", "/search",
          query={"q": {"type": "string"}}),
]

# Fields every response carries (SPEC 5), by lower-case name.
ALWAYS = {"content-length", "content-type", "cache-control",
          "x-content-type-options", "content-security-policy",
          "x-frame-options", "referrer-policy", "strict-transport-security",
          "date", "x-request-id"}

JSON_HDR = [("Content-Type", "application/json")]


def shut_wr(conn):
    """TCP half-close under the TLS layer: the daemon sees EOF (no
    close_notify), while this side can still read."""
    socket.socket.shutdown(conn.sock, socket.SHUT_WR)


class HttpCase(unittest.TestCase):
    daemon = None
    config = None
    routes = ROUTES
    workers = 2

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(config=cls.config, routes=cls.routes,
                            workers=cls.workers, name=cls.__name__.lower())
        cls.daemon.start_or_stop()

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None:
            cls.daemon.stop_and_check()

    # -- helpers

    def req(self, method, path, headers=(), body=None, **kw):
        return self.daemon.request(method, path, headers, body, **kw)

    def assert_common(self, r, hsts="max-age=63072000", problem=None):
        names = r.names()
        self.assertEqual(len(names), len(set(names)),
                         "repeated response fields: %r" % r.headers)
        for k, v in harness.SECURITY_HEADERS.items():
            self.assertEqual(r.header(k), v, k)
        self.assertIsNone(r.header("server"))
        self.assertIsNone(r.header("x-powered-by"))
        for k, v in r.headers:
            self.assertNotIn("bulwark", (k + v).lower(),
                             "a field names the implementation")
        if hsts is None:
            self.assertIsNone(r.header("strict-transport-security"))
        else:
            self.assertEqual(r.header("strict-transport-security"), hsts)
        date = harness.parse_http_date(r.header("date"))
        self.assertLess(abs(date - time.time()), 5.0)
        rid = r.header("x-request-id")
        self.assertIsNotNone(rid)
        if r.status != 204:
            self.assertEqual(int(r.header("content-length")), len(r.body))
        if problem is not None:
            self.assert_problem(r, problem)
        return rid

    def assert_problem(self, r, status):
        self.assertEqual(r.status, status)
        self.assertEqual(r.header("content-type"), "application/problem+json")
        p = r.json()
        for k in ("type", "title", "status", "detail", "instance"):
            self.assertIn(k, p, "problem member %s" % k)
        self.assertEqual(p["status"], status)
        self.assertEqual(p["instance"], r.header("x-request-id"))
        self.assertIsInstance(p["detail"], str)
        if p["type"] == "about:blank":
            self.assertEqual(p["title"], r.reason)
        self.assertNotIn(b"bulwark", r.body.replace(
            b"urn:bulwark:problem:validation", b""))
        return p

    def assert_closed(self, conn, wait=2.0):
        self.assertTrue(conn.peer_closed(wait),
                        "the daemon kept a connection it had to close")

    def assert_open(self, conn, wait=0.3):
        self.assertFalse(conn.peer_closed(wait),
                         "the daemon closed a keep-alive connection")


class TestHttp(HttpCase):

    # -- response fields

    def test_response_fields_exact(self):
        for path, status in (("/items", 503), ("/nope", 404)):
            r = self.req("GET", path)
            self.assertEqual(r.status, status)
            self.assert_common(r, problem=status)
            self.assertEqual(set(r.names()), ALWAYS,
                             "response field set for %d" % status)
            self.assertTrue(HEX32.match(r.header("x-request-id")))

    def test_request_ids_unique(self):
        ids = {self.req("GET", "/nope").header("x-request-id")
               for _ in range(5)}
        self.assertEqual(len(ids), 5)
        for i in ids:
            self.assertTrue(HEX32.match(i), i)

    def test_error_body_does_not_echo_input(self):
        r = self.req("GET", "/nope-ECHOMARK", [("X-Probe", "ECHOMARK2")])
        self.assert_common(r, problem=404)
        self.assertNotIn(b"ECHOMARK", r.body)

    def test_request_id_from_untrusted_peer_ignored(self):
        r = self.req("GET", "/nope", [("X-Request-Id", "client-chosen-1")])
        rid = r.header("x-request-id")
        self.assertTrue(HEX32.match(rid), rid)
        self.assertEqual(r.json()["instance"], rid)
        e = self.daemon.wait_access(lambda e: e.get("request_id") == rid)
        self.assertIsNotNone(e, "no access log line for %s" % rid)

    def test_forwarded_for_from_untrusted_peer_ignored(self):
        r = self.req("GET", "/nope", [("X-Forwarded-For", "203.0.113.9")])
        rid = r.header("x-request-id")
        e = self.daemon.wait_access(lambda e: e.get("request_id") == rid)
        self.assertIsNotNone(e)
        self.assertEqual(e["ip"], "127.0.0.1")

    # -- connections

    def test_keep_alive(self):
        with self.daemon.connect() as c:
            r1 = c.roundtrip("GET", "/items")
            self.assertFalse(r1.closes())
            r2 = c.roundtrip("GET", "/nope")
            self.assertEqual((r1.status, r2.status), (503, 404))
            self.assertNotEqual(r1.header("x-request-id"),
                                r2.header("x-request-id"))
            self.assert_open(c)

    def test_pipelining_in_order(self):
        data = (harness.build_request("GET", "/nope") +
                harness.build_request("GET", "/items") +
                harness.build_request("DELETE", "/items"))
        with self.daemon.connect() as c:
            c.send(data)
            got = [c.read_final().status for _ in range(3)]
            self.assertEqual(got, [404, 503, 405])
            self.assert_open(c)

    def test_pipelined_head_then_get(self):
        data = (harness.build_request("HEAD", "/items") +
                harness.build_request("GET", "/items"))
        with self.daemon.connect() as c:
            c.send(data)
            h = c.read_final(head=True)
            g = c.read_final()
            self.assertEqual((h.status, g.status), (503, 503))
            self.assertEqual(h.header("content-length"),
                             g.header("content-length"))
            self.assert_open(c)

    def test_records_of_one_burst_all_answered(self):
        # Twenty requests, each its own TLS record, reach the server in
        # one TCP segment: OpenSSL's read-ahead takes them all with one
        # read(2), and every one must still be answered (none left
        # waiting in OpenSSL's buffer for socket activity that never
        # comes).
        with self.daemon.connect() as c:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            for _ in range(20):
                c.send(harness.build_request("GET", "/nope"))
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            got = [c.read_final(timeout=3).status for _ in range(20)]
            self.assertEqual(got, [404] * 20)
            self.assert_open(c)

    def test_request_in_the_handshakes_last_flight(self):
        # The client's Finished and its first request in one segment:
        # the request is taken from the socket during the handshake.
        ctx = harness.default_context()
        raw = socket.create_connection(("127.0.0.1", self.daemon.port),
                                       timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="localhost",
                            do_handshake_on_connect=False)
        with harness.Conn(s) as c:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            s.do_handshake()
            c.send(harness.build_request("GET", "/nope"))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            self.assertEqual(c.read_final(timeout=3).status, 404)

    def test_http10_served_and_closed(self):
        with self.daemon.connect() as c:
            c.send(b"GET /items HTTP/1.0\r\n\r\n")
            r = c.read_final()
            self.assertEqual(r.status, 503)
            self.assert_common(r, problem=503)
            self.assert_closed(c)

    def test_http11_minor_above_1_served_as_11(self):
        with self.daemon.connect() as c:
            c.send(b"GET /items HTTP/1.2\r\nHost: localhost\r\n\r\n")
            self.assertEqual(c.read_final().status, 503)
            self.assert_open(c)

    def test_http11_without_host(self):
        for data in (b"GET /items HTTP/1.1\r\n\r\n",
                     b"GET /items HTTP/1.1\r\nHost: localhost\r\n"
                     b"Host: localhost\r\n\r\n",
                     b"GET /items HTTP/1.1\r\nHost: a b\r\n\r\n"):
            ex = self.daemon.send_raw(data)
            self.assertEqual(ex.statuses(), [400], data)
            self.assertTrue(ex.closed, data)

    def test_version_505(self):
        for v in (b"HTTP/2.0", b"HTTP/3.0"):
            ex = self.daemon.send_raw(b"GET /items " + v +
                                      b"\r\nHost: localhost\r\n\r\n")
            self.assertEqual(ex.statuses(), [505], v)
            self.assertTrue(ex.closed)

    def test_http09_never(self):
        ex = self.daemon.send_raw(b"GET /items\r\n\r\n")
        self.assertFalse(ex.hang, "HTTP/0.9 request left hanging")
        self.assertTrue(ex.closed)
        self.assertIn(ex.statuses(), ([], [400]))

    # -- routing

    def test_404(self):
        r = self.req("GET", "/nope")
        self.assert_common(r, problem=404)
        self.assertEqual(self.req("GET", "/items/").status, 404)
        self.assertEqual(self.req("GET", "/Items").status, 404)

    def test_405_allow(self):
        r = self.req("DELETE", "/items")
        self.assert_common(r, problem=405)
        allow = {m.strip() for m in r.header("allow").split(",")}
        self.assertEqual(allow, {"GET", "HEAD", "POST", "PUT", "OPTIONS"})
        self.assertEqual(set(r.names()), ALWAYS | {"allow"})

    def test_options_204(self):
        with self.daemon.connect() as c:
            r = c.roundtrip("OPTIONS", "/items")
            self.assertEqual(r.status, 204)
            self.assertEqual(r.body, b"")
            self.assertIsNone(r.header("content-type"))
            self.assertIsNone(r.header("content-length"))
            allow = {m.strip() for m in r.header("allow").split(",")}
            self.assertEqual(allow, {"GET", "HEAD", "POST", "PUT",
                                     "OPTIONS"})
            self.assert_common(r)
            self.assertEqual(c.roundtrip("GET", "/nope").status, 404,
                             "a 204 carried body bytes")
        self.assertEqual(self.req("OPTIONS", "/nope").status, 404)

    def test_trace_405(self):
        r = self.req("TRACE", "/items")
        self.assertEqual(r.status, 405)
        self.assertNotIn(b"TRACE /items", r.body)

    def test_unknown_method_501(self):
        for m in ("FOO", "get", "PROPFIND", "QUERY"):
            ex = self.daemon.send_raw(
                m.encode() + b" /items HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(ex.statuses(), [501], m)

    def test_connect_400(self):
        ex = self.daemon.send_raw(b"CONNECT localhost:443 HTTP/1.1\r\n"
                                  b"Host: localhost:443\r\n\r\n")
        self.assertEqual(ex.statuses(), [400])
        self.assertTrue(ex.closed)

    def test_head_same_headers_no_body(self):
        with self.daemon.connect() as c:
            g = c.roundtrip("GET", "/items")
            h = c.roundtrip("HEAD", "/items")
            self.assertEqual(h.status, g.status)
            self.assertEqual(h.header("content-length"),
                             g.header("content-length"))
            self.assertEqual(set(h.names()), set(g.names()))
            # a body sent after the HEAD response would be read here
            self.assertEqual(c.roundtrip("GET", "/nope").status, 404)
        self.assertEqual(self.req("HEAD", "/nope").status, 404)

    def test_head_refused_without_body(self):
        # RFC 9110 9.3.2: no content in any response to HEAD, errors too
        with self.daemon.connect() as c:
            c.send(b"HEAD /items HTTP/1.1\r\nHost: localhost\r\n"
                   b"X-Bad: \x01\r\n\r\n")
            r = c.read_final(head=True)
            self.assertEqual(r.status, 400)
            self.assert_closed(c)
            self.assertEqual(c.buf, b"", "a body was sent in answer to HEAD")
        with self.daemon.connect() as c:
            r = c.roundtrip("HEAD", "/nope")
            self.assertEqual(r.status, 404)
            self.assertEqual(c.roundtrip("GET", "/nope").status, 404)

    def test_path_parameter(self):
        self.assertEqual(self.req("GET", "/notes/12").status, 503)
        r = self.req("GET", "/notes/abc")
        self.assertEqual(r.status, 400)
        self.assertEqual(self.req("GET", "/notes/0").status, 400)

    def test_query_parameters(self):
        self.assertEqual(self.req("GET", "/search?q=a+b").status, 503)
        self.assertEqual(self.req("GET", "/search").status, 503)
        self.assertEqual(self.req("GET", "/search?q=a&q=b").status, 400)
        self.assertEqual(self.req("GET", "/search?x=1").status, 400)

    def test_bad_paths_400(self):
        for p in (b"/a//b", b"/items/../items", b"/./items", b"/%2e%2e/x",
                  b"items", b"/items#frag"):
            ex = self.daemon.send_raw(b"GET " + p +
                                      b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(ex.statuses(), [400], p)
            self.assertTrue(ex.closed, p)

    def test_absolute_form(self):
        ok = self.daemon.send_raw(b"GET https://localhost/items HTTP/1.1\r\n"
                                  b"Host: localhost\r\n\r\n")
        self.assertEqual(ok.statuses(), [503])
        bad = self.daemon.send_raw(b"GET https://example.com/items "
                                   b"HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(bad.statuses(), [400])

    # -- limits

    def test_414_uri_too_long(self):
        # max_uri_length 4KiB: a 4096-byte target is routed, 4097 is not
        base = b"/" + b"a" * 4095
        ex = self.daemon.send_raw(b"GET " + base + b" HTTP/1.1\r\n"
                                  b"Host: localhost\r\n\r\n")
        self.assertEqual(ex.statuses(), [404])
        ex = self.daemon.send_raw(b"GET " + base + b"a HTTP/1.1\r\n"
                                  b"Host: localhost\r\n\r\n")
        self.assertEqual(ex.statuses(), [414])
        self.assertTrue(ex.closed)
        self.assert_problem(ex.responses[0], 414)

    def test_431_header_size(self):
        ok = self.req("GET", "/items", [("X-Pad", "p" * 7000)])
        self.assertEqual(ok.status, 503)
        ex = self.daemon.send_raw(harness.build_request(
            "GET", "/items", [("X-Pad", "p" * 9000)]))
        self.assertEqual(ex.statuses(), [431])
        self.assertTrue(ex.closed)

    def test_431_header_count(self):
        # max_headers 64, Host included
        h63 = [("X-H%d" % i, "v") for i in range(63)]
        self.assertEqual(self.req("GET", "/items", h63).status, 503)
        ex = self.daemon.send_raw(harness.build_request(
            "GET", "/items", h63 + [("X-Last", "v")]))
        self.assertEqual(ex.statuses(), [431])
        self.assertTrue(ex.closed)

    def test_413_content_length_before_body(self):
        with self.daemon.connect() as c:
            c.send(b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Content-Length: 1048577\r\n\r\n")
            r = c.read_final(timeout=3)
            self.assert_problem(r, 413)
            self.assertTrue(r.closes())
            self.assert_closed(c)

    def test_413_route_limit(self):
        ok = b'"' + b"a" * 1022 + b'"'
        self.assertEqual(self.req("POST", "/small", JSON_HDR, ok).status, 503)
        big = b'"' + b"a" * 1023 + b'"'
        ex = self.daemon.send_raw(harness.build_request(
            "POST", "/small", JSON_HDR, big))
        self.assertEqual(ex.statuses(), [413])
        self.assertTrue(ex.closed)

    def test_413_chunked(self):
        chunk = b'"' + b"a" * 1998 + b'"'
        data = (b"POST /small HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" +
                b"7d0\r\n" + chunk + b"\r\n0\r\n\r\n")
        ex = self.daemon.send_raw(data)
        self.assertEqual(ex.statuses(), [413])
        self.assertTrue(ex.closed)

    # -- bodies

    def test_415_content_type(self):
        for ct in ("text/plain", "application/json; charset=latin-1",
                   "application/jsonx", None):
            hdr = [("Content-Type", ct)] if ct else []
            ex = self.daemon.send_raw(harness.build_request(
                "POST", "/items", hdr, b"{}"))
            self.assertEqual(ex.statuses(), [415], ct)
            self.assertTrue(ex.responses[0].closes(), ct)
            self.assertTrue(ex.closed, ct)
        for ct in ("application/json; charset=utf-8",
                   "Application/JSON; Charset=UTF-8", "application/json"):
            r = self.req("POST", "/items", [("Content-Type", ct)], b"{}")
            self.assertEqual(r.status, 503, ct)

    def test_415_content_encoding(self):
        ex = self.daemon.send_raw(harness.build_request(
            "POST", "/items", JSON_HDR + [("Content-Encoding", "gzip")],
            b"{}"))
        self.assertEqual(ex.statuses(), [415])
        self.assertTrue(ex.closed)
        r = self.req("POST", "/items",
                     JSON_HDR + [("Content-Encoding", "identity")], b"{}")
        self.assertEqual(r.status, 503)

    def test_body_syntax_400_keeps_connection(self):
        with self.daemon.connect() as c:
            for body in (b"", b"{", b"\xef\xbb\xbf{}", b'{"a":1,"a":2}',
                         b'"\xff"'):
                r = c.roundtrip("POST", "/items", JSON_HDR, body)
                self.assertEqual(r.status, 400, body)
                if r.closes():
                    break
            else:
                self.assertEqual(c.roundtrip("GET", "/nope").status, 404)

    def test_body_depth_400(self):
        deep = b"[" * 40 + b"]" * 40
        self.assertEqual(self.req("POST", "/items", JSON_HDR, deep).status,
                         400)
        ok = b"[" * 20 + b"]" * 20
        self.assertEqual(self.req("POST", "/items", JSON_HDR, ok).status,
                         503)

    def test_schema_422(self):
        r = self.req("POST", "/typed", JSON_HDR, b"{}")
        self.assertEqual(r.status, 422)
        p = r.json()
        self.assertEqual(p["type"], "urn:bulwark:problem:validation")
        self.assertTrue(p.get("errors"))
        self.assertEqual(self.req("POST", "/typed", JSON_HDR,
                                  b'{"title":"x"}').status, 503)

    def test_body_to_route_without_body_400(self):
        for extra, body in (([("Content-Length", "2")], b"{}"),
                            ([("Transfer-Encoding", "chunked")],
                             b"2\r\n{}\r\n0\r\n\r\n")):
            ex = self.daemon.send_raw(harness.build_request(
                "GET", "/items", JSON_HDR + extra, body))
            self.assertEqual(ex.statuses(), [400], extra)
            self.assertTrue(ex.closed)
        # Content-Length: 0 is no body
        r = self.req("GET", "/items", [("Content-Length", "0")])
        self.assertEqual(r.status, 503)

    def test_early_answer_to_declared_body_closes(self):
        for method, path in (("POST", "/nope"), ("DELETE", "/items")):
            with self.daemon.connect() as c:
                c.send(harness.build_request(method, path, JSON_HDR +
                                             [("Content-Length", "100")]))
                r = c.read_final()
                self.assertIn(r.status, (404, 405))
                self.assertTrue(r.closes(), "%s %s" % (method, path))
                self.assert_closed(c)

    def test_chunked_body_accepted(self):
        with self.daemon.connect() as c:
            c.send(b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n"
                   b"1\r\n{\r\n3;ext=1\r\n\"a\"\r\n3\r\n:1}\r\n"
                   b"0\r\nTrailer-Field: x\r\n\r\n")
            self.assertEqual(c.read_final().status, 503)
            self.assertEqual(c.roundtrip("GET", "/nope").status, 404)
            self.assert_open(c)

    def test_chunked_malformed_400(self):
        for chunks in (b"2 \r\n{}\r\n0\r\n\r\n", b"2\r\n{}0\r\n\r\n",
                       b"-2\r\n{}\r\n0\r\n\r\n", b"0x2\r\n{}\r\n0\r\n\r\n",
                       b"2\n{}\r\n0\r\n\r\n"):
            ex = self.daemon.send_raw(
                b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
            self.assertEqual(ex.statuses(), [400], chunks)
            self.assertTrue(ex.closed, chunks)

    def test_100_continue(self):
        with self.daemon.connect() as c:
            c.send(b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            r = c.read_response(timeout=3)
            self.assertEqual(r.status, 100)
            self.assertEqual(r.headers, [])
            c.send(b"{}")
            self.assertEqual(c.read_final().status, 503)
            self.assert_open(c)

    def test_no_100_continue_when_refused(self):
        with self.daemon.connect() as c:
            c.send(b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Type: text/plain\r\n"
                   b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            r = c.read_response(timeout=3)
            self.assertEqual(r.status, 415)
            self.assertTrue(r.closes())
            self.assert_closed(c)

    def assert_logged_cut(self, offset, what):
        deadline = time.monotonic() + 2
        while True:
            with open(self.daemon.stderr_path, "rb") as fp:
                fp.seek(offset)
                text = fp.read().decode("utf-8", "replace")
            if re.search(r"(?i)\beof\b|end of (stream|file)|\bcut\b|"
                         r"truncat|incomplete", text):
                return
            if time.monotonic() > deadline:
                self.fail("a %s cut by EOF was not logged; new stderr: %r" %
                          (what, text[-500:]))
            time.sleep(0.1)

    def test_eof_mid_head_not_answered(self):
        before = self.daemon.stderr_size()
        with self.daemon.connect() as c:
            c.send(b"GET /items HTTP/1.1\r\nHost: localhost\r\n")
            time.sleep(0.2)
            shut_wr(c)
            self.assertTrue(c.peer_closed(3.0))
            self.assertEqual(c.buf, b"", "answered a head cut by EOF")
        self.assert_logged_cut(before, "head")

    def test_eof_mid_body_not_answered(self):
        before = self.daemon.stderr_size()
        with self.daemon.connect() as c:
            c.send(b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Content-Length: 10\r\n\r\n[1,2")
            time.sleep(0.2)
            shut_wr(c)
            self.assertTrue(c.peer_closed(3.0))
            self.assertEqual(c.buf, b"", "answered a body cut by EOF")
        self.assert_logged_cut(before, "body")

    # -- access log

    def test_access_log_fields(self):
        r = self.req("GET", "/items")
        rid = r.header("x-request-id")
        e = self.daemon.wait_access(lambda e: e.get("request_id") == rid)
        self.assertIsNotNone(e, "no access log line")
        self.assertEqual(set(e), {"time", "request_id", "ip", "method",
                                  "route", "path", "status", "bytes",
                                  "duration_us", "user"})
        self.assertRegex(e["time"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(e["ip"], "127.0.0.1")
        self.assertEqual(e["method"], "GET")
        self.assertEqual(e["route"], "items_get")
        self.assertEqual(e["path"], "/items")
        self.assertEqual(e["status"], 503)
        self.assertIsInstance(e["bytes"], int)
        self.assertGreaterEqual(e["bytes"], len(r.body))
        self.assertIsInstance(e["duration_us"], int)
        self.assertGreaterEqual(e["duration_us"], 0)
        self.assertIsNone(e["user"])

    def test_access_log_never_has_query(self):
        r = self.req("GET", "/search?q=SECRETQ1&token=SECRETQ2")
        rid = r.header("x-request-id")
        e = self.daemon.wait_access(lambda e: e.get("request_id") == rid)
        self.assertIsNotNone(e)
        self.assertEqual(e["path"], "/search")
        self.assertEqual(e["route"], "search_get")
        r = self.req("GET", "/nope?token=SECRETQ3")
        e = self.daemon.wait_access(
            lambda e: e.get("request_id") == r.header("x-request-id"))
        self.assertEqual(e["path"], "/nope")
        time.sleep(0.2)
        blob = self.daemon.access_raw() + self.daemon.stderr_text().encode()
        for s in (b"SECRETQ1", b"SECRETQ2", b"SECRETQ3"):
            self.assertNotIn(s, blob)


class TestHttpTrusted(HttpCase):
    """trusted_proxies, hostnames, hsts: 0, max_requests_per_connection."""

    config = {"server": {
        "trusted_proxies": ["127.0.0.1/32", "10.0.0.0/8"],
        "hostnames": ["localhost"],
        "tls": {"hsts": 0},
        "limits": {"max_requests_per_connection": 3},
    }}

    def access_for(self, r):
        rid = r.header("x-request-id")
        e = self.daemon.wait_access(lambda e: e.get("request_id") == rid)
        self.assertIsNotNone(e, "no access log line for %s" % rid)
        return e

    def test_hsts_disabled(self):
        r = self.req("GET", "/items")
        self.assert_common(r, hsts=None, problem=503)

    def test_request_id_from_trusted_proxy(self):
        good = "abc.DEF:123-xyz_0"
        r = self.req("GET", "/items", [("X-Request-Id", good)])
        self.assertEqual(r.header("x-request-id"), good)
        self.assertEqual(r.json()["instance"], good)
        self.assertEqual(self.access_for(r)["request_id"], good)
        r = self.req("GET", "/items", [("X-Request-Id", "a" * 64)])
        self.assertEqual(r.header("x-request-id"), "a" * 64)

    def test_invalid_request_id_from_trusted_proxy_replaced(self):
        for bad in ("a" * 65, "with space", "semi;colon", "slash/x",
                    "\xe9t\xe9"):
            r = self.req("GET", "/items", [("X-Request-Id", bad)])
            rid = r.header("x-request-id")
            self.assertTrue(HEX32.match(rid), "%r kept as %r" % (bad, rid))

    def test_forwarded_for_walk(self):
        cases = [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7, 10.1.2.3", "203.0.113.7"),
            ("198.51.100.1, 203.0.113.7, 10.9.9.9", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("garbage", "127.0.0.1"),
            ("203.0.113.7,, 10.1.2.3", "127.0.0.1"),
            (", ".join(["198.51.100.%d" % i for i in range(21)]),
             "127.0.0.1"),
        ]
        for xff, ip in cases:
            r = self.req("GET", "/items", [("X-Forwarded-For", xff)])
            self.assertEqual(self.access_for(r)["ip"], ip, xff)

    def test_host_mismatch_421(self):
        r = self.req("GET", "/items", host="other.example")
        self.assert_problem(r, 421)
        for host in ("LOCALHOST", "localhost:8443"):
            self.assertEqual(self.req("GET", "/items", host=host).status,
                             503, host)

    def test_sni_mismatch_421(self):
        ctx = harness.client_context(verify=False)
        r = self.req("GET", "/items", context=ctx,
                     server_hostname="other.example")
        self.assertEqual(r.status, 421)
        r = self.req("GET", "/items", context=ctx, server_hostname=None)
        self.assertEqual(r.status, 503)

    def test_max_requests_per_connection(self):
        with self.daemon.connect() as c:
            rs = [c.roundtrip("GET", "/items") for _ in range(3)]
            self.assertEqual([r.status for r in rs], [503] * 3)
            self.assertEqual([r.closes() for r in rs], [False, False, True])
            self.assert_closed(c)


class TestTimeouts(HttpCase):
    """Deadlines are event timers from fixed points, not inactivity."""

    workers = 1
    config = {"server": {"limits": {
        "header_timeout": "2s", "body_timeout": "2s", "idle_timeout": "4s",
    }}}
    SLACK = 0.75

    def assert_about(self, took, want, what):
        self.assertGreaterEqual(took, want - self.SLACK, what)
        self.assertLessEqual(took, want + self.SLACK, what)

    def assert_timeout_answer(self, conn):
        """A deadline may be answered 408 before the close; nothing else."""
        if conn.buf:
            r = conn.read_response(timeout=1)
            self.assertEqual(r.status, 408)
            self.assertTrue(r.closes())

    def trickle_until_closed(self, conn, data, every=0.2, limit=6.0):
        """Send data one byte every `every` seconds (one thread: an SSL
        object is never used from two threads) until the daemon closes;
        returns when it closed, or None."""
        end = time.monotonic() + limit
        i = 0
        while time.monotonic() < end:
            if i < len(data):
                try:
                    conn.send(data[i:i + 1])
                except (OSError, harness.ssl.SSLError):
                    return time.monotonic()
                i += 1
            if conn.peer_closed(every):
                return time.monotonic()
        return None

    def test_header_timeout_without_tls(self):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", self.daemon.port))
        s.settimeout(5)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
        s.close()
        self.assertEqual(data, b"")
        self.assert_about(took, 2.0, "idle TCP connection before TLS")

    def test_header_timeout_is_a_deadline(self):
        t0 = time.monotonic()
        c = self.daemon.connect()
        data = b"GET /items HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + \
            b"x" * 200
        at = self.trickle_until_closed(c, data)
        self.assertIsNotNone(at, "slow head never timed out")
        self.assert_about(at - t0, 2.0, "header_timeout from accept")
        self.assert_timeout_answer(c)
        c.close()

    def test_idle_timeout(self):
        c = self.daemon.connect()
        self.assertEqual(c.roundtrip("GET", "/items").status, 503)
        t0 = time.monotonic()
        at = c.wait_closed(6.0)
        self.assertIsNotNone(at)
        self.assert_about(at - t0, 4.0, "idle_timeout")
        self.assertEqual(c.buf, b"")
        c.close()

    def test_later_request_header_timeout_from_first_byte(self):
        c = self.daemon.connect()
        self.assertEqual(c.roundtrip("GET", "/items").status, 503)
        t0 = time.monotonic()
        self.assertFalse(c.peer_closed(1.0))
        data = b"GET /items HTTP/1.1\r\nX-Slow: " + b"x" * 200
        at = self.trickle_until_closed(c, data)
        self.assertIsNotNone(at)
        self.assert_about(at - t0, 3.0, "header_timeout from first byte")
        self.assert_timeout_answer(c)
        c.close()

    def test_body_timeout_is_a_deadline(self):
        c = self.daemon.connect()
        c.send(b"POST /items HTTP/1.1\r\nHost: localhost\r\n"
               b"Content-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n")
        t0 = time.monotonic()
        at = self.trickle_until_closed(c, b'"' + b"a" * 98 + b'"')
        self.assertIsNotNone(at, "slow body never timed out")
        self.assert_about(at - t0, 2.0, "body_timeout")
        self.assert_timeout_answer(c)
        c.close()

    def test_request_timeout(self):
        self.skipTest("request_timeout needs a slow SQL statement; without "
                      "a database every route fails fast (503)")


class TestMaxConnections(HttpCase):
    workers = 1
    config = {"server": {"limits": {"max_connections": 4}}}

    def test_max_connections(self):
        conns = [self.daemon.connect() for _ in range(4)]
        try:
            for c in conns:
                self.assertEqual(c.roundtrip("GET", "/items").status, 503)
            refused = None
            try:
                extra = self.daemon.connect(timeout=5)
                try:
                    extra.send(harness.build_request("GET", "/items"))
                    extra.read_final(timeout=3)
                    refused = False
                except (Closed, OSError, harness.ProtocolError):
                    refused = True
                extra.close()
            except (OSError, harness.ssl.SSLError):
                refused = True
            self.assertTrue(refused, "a connection beyond max_connections "
                            "was served")
            for c in conns:
                self.assertEqual(c.roundtrip("GET", "/items").status, 503)
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + 3
        while True:
            try:
                self.assertEqual(self.daemon.request("GET", "/items").status,
                                 503)
                break
            except (OSError, Closed, harness.ssl.SSLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


class TestRateLimit(HttpCase):
    """SPEC 5: the rate limit by client address answers 429 with
    Retry-After, before credentials and parameters are looked at."""
    workers = 1
    routes = [route("limited", "GET", "/limited/{id}",
                    params={"id": {"type": "integer"}},
                    rate_limit={"by": "ip", "rate": "6/m", "burst": 2}),
              route("free", "GET", "/free")]

    def test_429_with_retry_after(self):
        with self.daemon.connect() as c:
            for _ in range(2):
                self.assertEqual(c.roundtrip("GET", "/limited/1").status,
                                 503)
            r = c.roundtrip("GET", "/limited/1")
            self.assert_common(r, problem=429)
            # 6 per minute: the next token comes within 10 seconds.
            self.assertIn(int(r.header("retry-after")), range(1, 11))
            # The limit comes before the parameters step (400).
            self.assertEqual(c.roundtrip("GET", "/limited/x").status, 429)
            # Other routes keep their own budget; the connection stays.
            self.assertEqual(c.roundtrip("GET", "/free").status, 503)
            self.assertIsNone(c.roundtrip("GET", "/free").header(
                "retry-after"))


if __name__ == "__main__":
    unittest.main()
