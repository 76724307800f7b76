"""
test_sql.py - routes answered by a real PostgreSQL (SPEC 7), over TLS.

A throwaway cluster (tests/pg-tmp, TCP on 127.0.0.1) holds the tables and
functions below; one bulwarkd serves most routes, others are started for
the database outage and the -t checks.  What a route stored is read back
with psql, never trusted from the daemon's own answer.

Covered: every result mode (object 0/1/2 rows, array max_rows and
max_response_size, none 204/202, value), the type mapping of SPEC 7, every
row of the SQLSTATE mapping (real violations and RAISE ... USING ERRCODE),
40001 retried exactly once, no PostgreSQL message reaching a client,
hostile strings bound byte for byte, U+0000 refused before SQL, statement
timeout 504 with the connection kept, PostgreSQL stopped under load, -t
with a missing table (exit 1, route and line) and an unreachable database
(exit 3), -t on conf/demo.yaml over scripts/demo-sql.sql, :body into
jsonb, query defaults and query_required.  A reload's statements are
checked by a child of the master: a statement that does not prepare fails
the reload (FILE:LINE:COL, the old routes still served), and a domain
created after start reaches the new workers' type mapping.

Environment: BULWARKD; PostgreSQL server binaries and psql (skipped with
the reason when missing).  Python 3 standard library only.
"""

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
import unittest
import urllib.parse

import harness
import pg
from harness import route

CLUSTER = None
MARKER = "secret-marker-" + secrets.token_hex(8)

SCHEMA = r"""
CREATE TABLE notes (
    id bigserial PRIMARY KEY,
    owner text,
    title text NOT NULL,
    body text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE labels (name text NOT NULL);
CREATE TABLE docs (id serial PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE uniq (k text PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent bigint REFERENCES notes(id));
CREATE TABLE checked (n int CHECK (n > 0));
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE SEQUENCE flaky_seq;
CREATE SEQUENCE always_seq;
CREATE SEQUENCE raise_seq;

CREATE FUNCTION raise_state(code text) RETURNS int LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM nextval('raise_seq');
    RAISE EXCEPTION USING MESSAGE = '@MARKER@ message ' || code,
        DETAIL = '@MARKER@ detail', HINT = '@MARKER@ hint', ERRCODE = code;
END $f$;

CREATE FUNCTION flaky() RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    IF nextval('flaky_seq') = 1 THEN
        RAISE EXCEPTION '@MARKER@ serialization' USING ERRCODE = '40001';
    END IF;
    RETURN 'second try';
END $f$;

CREATE FUNCTION always_40001() RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM nextval('always_seq');
    RAISE EXCEPTION '@MARKER@ always' USING ERRCODE = '40001';
END $f$;

CREATE ROLE bw_weak NOLOGIN;
CREATE TABLE secret_tab (x int);
CREATE FUNCTION peek() RETURNS int LANGUAGE sql SECURITY DEFINER
    AS $f$ SELECT count(*)::int FROM secret_tab $f$;
ALTER FUNCTION peek() OWNER TO bw_weak;
""".replace("@MARKER@", MARKER)

TYPES_SQL = (
    "SELECT 1::int2 AS i2, (-2147483648)::int4 AS i4, "
    "9223372036854775807::int8 AS i8, 1.5::float4 AS f4, "
    "0.1::float8 AS f8, 1.10::numeric AS n1, "
    "12345678901234567890.5::numeric AS n2, 'NaN'::numeric AS nan, "
    "'Infinity'::float8 AS inf, '-Infinity'::numeric AS ninf, "
    "'NaN'::float4 AS fnan, true AS t, false AS f, "
    "'{\"a\" : [1, 2.50, null]}'::json AS j, "
    "'{\"b\": 1.0, \"a\": [true]}'::jsonb AS jb, NULL::text AS nul, "
    "NULL::int AS nuli, "
    "'2024-01-02 03:04:05.123456+00'::timestamptz AS tz, "
    "'2024-01-02 03:04:05+02'::timestamptz AS tz0, "
    "'2024-01-02 03:04:05'::timestamp AS ts, "
    "'2024-01-02 03:04:05.5'::timestamp AS ts5, "
    "ARRAY[1, NULL, 3] AS ai, "
    "ARRAY['a\"b', NULL, 'c\\d', 'NULL', '', 'x,y', ' s '] AS at, "
    "ARRAY[1.10, 2]::numeric[] AS an, ARRAY[true, false] AS ab, "
    "ARRAY['2024-01-02 03:04:05+00']::timestamptz[] AS atz, "
    "ARRAY[]::int[] AS aempty, "
    "5::posint AS dom, '2024-01-02'::date AS d, "
    "'e' || chr(128512) || ' ctl ' || chr(1) || chr(9) || chr(10) || "
    "chr(31) || chr(127) || '\"\\' AS txt"
)


SHARED = None


def setUpModule():
    global CLUSTER, SHARED
    harness.require_binary()
    CLUSTER = pg.Cluster.start()
    try:
        CLUSTER.psql(SCHEMA)
        CLUSTER.psql("CREATE DATABASE bw_outage")
        CLUSTER.psql("CREATE TABLE t (x int)", db="bw_outage")
        CLUSTER.psql("CREATE DATABASE bw_reload")
    except BaseException:
        tearDownModule()
        raise
    SHARED = pg.Shared(lambda: pg.PgDaemon(
        CLUSTER, routes=main_routes(), name="sql",
        config={"server": {"limits": {"max_response_size": "2MiB"}},
                "database": {"pool_size": 1}}), "/count")


def tearDownModule():
    global CLUSTER, SHARED
    try:
        if SHARED is not None:
            SHARED.stop()
    finally:
        SHARED = None
        if CLUSTER is not None:
            CLUSTER.destroy()
            CLUSTER = None


def seq_used(name):
    """How many values sequence `name` has handed out so far."""
    last, called = CLUSTER.rows("SELECT last_value, is_called FROM %s" %
                                name)[0]
    return int(last) if called == "t" else int(last) - 1


def lexemes(body):
    """JSON with every number kept as ('#', lexeme)."""
    return json.loads(body.decode("utf-8"), parse_float=lambda s: ("#", s),
                      parse_int=lambda s: ("#", s),
                      parse_constant=lambda s: ("!", s))


def J(extra=()):
    return pg.json_headers(extra)


def main_routes():
    notes_body = {
        "type": "object", "required": ["title"],
        "properties": {"title": {"type": "string"},
                       "body": {"type": "string"}}}
    return [
        route("types", "GET", "/types", sql=TYPES_SQL),
        route("obj", "GET", "/obj",
              query={"n": {"type": "integer"}},
              query_required=["n"],
              sql="SELECT g AS n FROM generate_series(1, "
                  "CAST(:query.n AS int)) g"),
        route("arr", "GET", "/arr", result="array", max_rows=5,
              query={"n": {"type": "integer"}}, query_required=["n"],
              sql="SELECT g AS n FROM generate_series(1, "
                  "CAST(:query.n AS int)) g"),
        route("big", "GET", "/big", result="array",
              query={"k": {"type": "integer"}}, query_required=["k"],
              sql="SELECT repeat('x', 1048576) AS s "
                  "FROM generate_series(1, CAST(:query.k AS int))"),
        route("add_note", "POST", "/notes", body=notes_body,
              max_body_size="2MiB", status=201,
              sql="INSERT INTO notes (title, body) VALUES "
                  "(:body.title, :body.body) RETURNING id"),
        route("touch", "POST", "/touch", body=notes_body, result="none",
              sql="INSERT INTO notes (title, body) VALUES "
                  "(:body.title, :body.body)"),
        route("touch_later", "POST", "/later", body=notes_body,
              result="none", status=202,
              sql="INSERT INTO notes (title) VALUES (:body.title)"),
        route("note_title", "GET", "/notes/{id}/title", result="value",
              params={"id": {"type": "integer"}},
              sql="SELECT title FROM notes WHERE id = :path.id"),
        route("note_count", "GET", "/count", result="value",
              sql="SELECT count(*) FROM notes"),
        route("by_title", "GET", "/by-title/{t}", result="array",
              params={"t": {"type": "string"}},
              sql="SELECT id, title FROM notes WHERE title = :path.t "
                  "ORDER BY id"),
        route("add_label", "POST", "/labels/{name}",
              params={"name": {"type": "string"}},
              body={"type": "object", "additionalProperties": False},
              result="none",
              sql="INSERT INTO labels (name) VALUES (:path.name)"),
        route("add_doc", "POST", "/docs", body={"type": "object",
                                                 "additionalProperties": True},
              result="value",
              sql="INSERT INTO docs (doc) VALUES (:body) RETURNING id"),
        route("list", "GET", "/list",
              query={"limit": {"type": "integer", "minimum": 1,
                               "maximum": 100, "default": 20},
                     "q": {"type": "string"},
                     "opt": {"type": "string"}},
              query_required=["q"],
              sql="SELECT CAST(:query.limit AS int) AS lim, "
                  "CAST(:query.q AS text) AS q, "
                  "CAST(:query.opt AS text) AS opt"),
        route("sleep", "GET", "/sleep", timeout="1s",
              sql="SELECT pg_sleep(10) IS NULL AS slept"),
        route("pid", "GET", "/pid",
              sql="SELECT pg_backend_pid() AS pid"),
        route("raise", "GET", "/raise",
              query={"code": {"type": "string",
                              "pattern": "^[0-9A-Z]{5}$"}},
              query_required=["code"],
              sql="SELECT raise_state(:query.code) AS x"),
        route("flaky", "GET", "/flaky", sql="SELECT flaky() AS x"),
        route("always", "GET", "/always", sql="SELECT always_40001() AS x"),
        route("peek", "GET", "/peek", sql="SELECT peek() AS x"),
        route("div", "GET", "/div/{d}", params={"d": {"type": "integer"}},
              sql="SELECT 1 / CAST(:path.d AS int) AS q"),
        route("uniq", "POST", "/uniq",
              body={"type": "object", "required": ["k"],
                    "properties": {"k": {"type": "string"}}},
              result="none", sql="INSERT INTO uniq (k) VALUES (:body.k)"),
        route("child", "POST", "/child",
              body={"type": "object", "required": ["id", "parent"],
                    "properties": {"id": {"type": "integer"},
                                   "parent": {"type": "integer"}}},
              result="none",
              sql="INSERT INTO child (id, parent) VALUES "
                  "(:body.id, :body.parent)"),
        route("nn", "POST", "/nn",
              body={"type": "object",
                    "properties": {"title": {"type": ["string", "null"]}}},
              result="none",
              sql="INSERT INTO notes (title) VALUES (:body.title)"),
        route("check", "POST", "/check",
              body={"type": "object", "required": ["n"],
                    "properties": {"n": {"type": "integer"}}},
              result="none", sql="INSERT INTO checked (n) VALUES (:body.n)"),
        route("dom", "GET", "/dom/{n}", params={"n": {"type": "integer"}},
              sql="SELECT CAST(:path.n AS int)::posint AS v"),
        route("domarr", "GET", "/domarr",
              sql="SELECT ARRAY[1, 2]::posint[] AS v"),
    ]


class SqlCase(unittest.TestCase):
    """Tests against the shared daemon serving main_routes()."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = SHARED.get()

    def req(self, method, path, body=None, headers=None, timeout=10.0):
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if headers is None:
            headers = J() if body is not None else []
        return self.daemon.request(method, path, headers, body,
                                   timeout=timeout * harness.SLOW)

    def assert_problem(self, r, status):
        self.assertEqual(r.status, status, r.body[:300])
        self.assertEqual(r.header("content-type"), "application/problem+json")
        p = r.json()
        self.assertEqual(p["status"], status)
        self.assertEqual(p["instance"], r.header("x-request-id"))
        return p

    def assert_json(self, r, status=200):
        self.assertEqual(r.status, status, r.body[:300])
        self.assertEqual(r.header("content-type"),
                         "application/json; charset=utf-8")
        return r.json()

    def hexstr(self, s):
        return s.encode("utf-8").hex()

    def stored_title_hex(self, note_id):
        return CLUSTER.value(
            "SELECT encode(convert_to(title, 'UTF8'), 'hex') FROM notes "
            "WHERE id = %d" % int(note_id))

    def count(self, table):
        return int(CLUSTER.value("SELECT count(*) FROM %s" % table))


class TestResults(SqlCase):

    def test_object_zero_one_two_rows(self):
        self.assert_problem(self.req("GET", "/obj?n=0"), 404)
        self.assertEqual(self.assert_json(self.req("GET", "/obj?n=1")),
                         {"n": 1})
        r = self.req("GET", "/obj?n=2")
        self.assert_problem(r, 500)
        self.assertNotIn(b'"n"', r.body)
        self.assertIn("route obj", self.daemon.stderr_text(),
                      "a 2-row object result must be logged")

    def test_array_rows_and_max_rows(self):
        self.assertEqual(self.assert_json(self.req("GET", "/arr?n=0")), [])
        self.assertEqual(self.assert_json(self.req("GET", "/arr?n=5")),
                         [{"n": i} for i in range(1, 6)])
        r = self.req("GET", "/arr?n=6")
        self.assert_problem(r, 500)
        self.assertNotIn(b'"n":6', r.body)
        r = self.req("GET", "/arr?n=100000")
        self.assert_problem(r, 500)

    def test_array_max_response_size(self):
        r = self.req("GET", "/big?k=1")
        got = self.assert_json(r)
        self.assertEqual(got, [{"s": "x" * 1048576}])
        r = self.req("GET", "/big?k=2")
        self.assert_problem(r, 500)
        self.assertLess(len(r.body), 4096)
        # the connection and the pool still serve afterwards
        self.assertEqual(self.req("GET", "/obj?n=1").status, 200)

    def test_none_204_and_202(self):
        n0 = self.count("notes")
        r = self.req("POST", "/touch", {"title": "none-204"})
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        self.assertIsNone(r.header("content-type"))
        r = self.req("POST", "/later", {"title": "none-202"})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(self.count("notes"), n0 + 2)
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM notes WHERE title IN "
            "('none-204', 'none-202')"), "2")

    def test_created_201_returning(self):
        r = self.req("POST", "/notes", {"title": "created", "body": "b"})
        got = self.assert_json(r, 201)
        self.assertEqual(set(got), {"id"})
        self.assertIsInstance(got["id"], int)
        self.assertEqual(CLUSTER.rows(
            "SELECT title, body FROM notes WHERE id = %d" % got["id"]),
            [["created", "b"]])

    def test_value_mode(self):
        r = self.req("POST", "/notes", {"title": "value \"mode\""})
        nid = self.assert_json(r, 201)["id"]
        r = self.req("GET", "/notes/%d/title" % nid)
        self.assertEqual(r.body, b'"value \\"mode\\""')
        self.assertEqual(self.assert_json(r), 'value "mode"')
        self.assert_problem(self.req("GET", "/notes/999999999/title"), 404)
        r = self.req("GET", "/count")
        n = self.assert_json(r)
        self.assertEqual(n, self.count("notes"))
        self.assertRegex(r.body.decode(), r"^[0-9]+$")


class TestTypes(SqlCase):

    def test_type_mapping(self):
        r = self.req("GET", "/types")
        self.assertEqual(r.status, 200, r.body)
        raw = r.body.decode("utf-8")
        for b in r.body:
            self.assertGreaterEqual(b, 0x20, "raw control byte in JSON")
        v = lexemes(r.body)
        num = lambda s: ("#", s)  # noqa: E731
        expect = {
            "i2": num("1"), "i4": num("-2147483648"),
            "i8": num("9223372036854775807"), "f4": num("1.5"),
            "f8": num("0.1"), "n1": num("1.10"),
            "n2": num("12345678901234567890.5"), "nan": "NaN",
            "inf": "Infinity", "ninf": "-Infinity", "fnan": "NaN",
            "t": True, "f": False,
            "j": {"a": [num("1"), num("2.50"), None]},
            "jb": {"a": [True], "b": num("1.0")},
            "nul": None, "nuli": None,
            "tz": "2024-01-02T03:04:05.123456Z",
            "tz0": "2024-01-02T01:04:05Z",
            "ts": "2024-01-02T03:04:05",
            "ts5": "2024-01-02T03:04:05.5",
            "ai": [num("1"), None, num("3")],
            "at": ['a"b', None, "c\\d", "NULL", "", "x,y", " s "],
            "an": [num("1.10"), num("2")],
            "ab": [True, False],
            "atz": ["2024-01-02T03:04:05Z"],
            "aempty": [],
            "dom": num("5"), "d": "2024-01-02",
            "txt": "e\U0001F600 ctl \x01\t\n\x1f\x7f\"\\",
        }
        self.assertEqual(list(v), list(expect), "column order")
        for k in expect:
            self.assertEqual(v[k], expect[k], "column %s in %s" % (k, raw))
        # json is embedded as PostgreSQL stored it (whitespace kept)
        self.assertIn('"j":{"a" : [1, 2.50, null]}', raw)
        self.assertIn('"jb":{"a": [true], "b": 1.0}', raw)

    def test_domain_column(self):
        self.assertEqual(self.req("GET", "/dom/7").body, b'{"v":7}')
        # the domain's CHECK is a 23514 -> 422
        self.assert_problem(self.req("GET", "/dom/0"), 422)

    def test_array_of_domain(self):
        # posint[] has its own type oid: the master loads the catalog's
        # domains and array types before forking the workers.
        self.assertEqual(self.req("GET", "/domarr").body, b'{"v":[1,2]}')


class TestSqlstate(SqlCase):

    def raise_status(self, code):
        r = self.req("GET", "/raise?code=" + code)
        self.assert_no_leak(r)
        return r.status

    def assert_no_leak(self, r):
        whole = r.raw_head + b"\r\n\r\n" + r.body
        self.assertNotIn(MARKER.encode(), whole)
        self.assertNotIn(b"raise_state", whole)
        self.assertNotIn(b"SQLSTATE", whole.upper())
        self.assertNotIn(b"plpgsql", whole.lower())

    def test_mapping_table(self):
        table = [
            ("23505", 409), ("23503", 409), ("23502", 422), ("23514", 422),
            ("22000", 422), ("22012", 422), ("22P02", 422), ("22001", 422),
            ("42501", 403), ("57014", 504), ("08000", 503), ("08006", 503),
            ("08P01", 503), ("40001", 503), ("40P01", 503),
            ("23P01", 500), ("23000", 500), ("P0001", 500), ("XX000", 500),
            ("42P01", 500), ("57P01", 500), ("53300", 500), ("25006", 500),
        ]
        used = seq_used("raise_seq")
        got = [(code, self.raise_status(code)) for code, _ in table]
        self.assertEqual(got, table)
        # each statement ran once, 40001 and 40P01 twice (one retry)
        self.assertEqual(seq_used("raise_seq") - used, len(table) + 2)

    def test_message_never_reaches_client(self):
        before = len(self.daemon.stderr_text())
        for code in ("P0001", "23505", "22012", "08006", "XX000"):
            r = self.req("GET", "/raise?code=" + code)
            self.assert_no_leak(r)
            p = r.json()
            self.assertEqual(set(p) - {"errors"},
                             {"type", "title", "status", "detail",
                              "instance"})
        # the log has the detail (SPEC 7)
        deadline = time.monotonic() + 3
        while (MARKER not in self.daemon.stderr_text()[before:] and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertIn(MARKER, self.daemon.stderr_text()[before:])

    def test_real_unique_violation_409(self):
        self.assertEqual(self.req("POST", "/uniq", {"k": "u1"}).status, 204)
        r = self.req("POST", "/uniq", {"k": "u1"})
        self.assert_problem(r, 409)
        self.assertNotIn(b"uniq_pkey", r.body)
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM uniq WHERE k = 'u1'"), "1")

    def test_real_foreign_key_violation_409(self):
        r = self.req("POST", "/child", {"id": 1, "parent": 987654321})
        self.assert_problem(r, 409)
        self.assertNotIn(b"child_parent_fkey", r.body)
        self.assertEqual(self.count("child"), 0)

    def test_real_not_null_422(self):
        r = self.req("POST", "/nn", {"title": None})
        self.assert_problem(r, 422)
        self.assertNotIn(b"null value", r.body)

    def test_real_check_violation_422(self):
        r = self.req("POST", "/check", {"n": -1})
        self.assert_problem(r, 422)
        self.assertNotIn(b"checked_n_check", r.body)
        self.assertEqual(self.req("POST", "/check", {"n": 3}).status, 204)

    def test_real_data_exception_422(self):
        r = self.req("GET", "/div/0")
        self.assert_problem(r, 422)
        self.assertNotIn(b"division", r.body)
        self.assertEqual(self.req("GET", "/div/2").body, b'{"q":0}')

    def test_real_insufficient_privilege_403(self):
        r = self.req("GET", "/peek")
        self.assert_problem(r, 403)
        self.assertNotIn(b"secret_tab", r.body)

    def test_40001_retried_once_then_503(self):
        used = seq_used("always_seq")
        r = self.req("GET", "/always")
        self.assert_problem(r, 503)
        self.assert_no_leak(r)
        self.assertEqual(seq_used("always_seq") - used, 2,
                         "40001 must be tried exactly twice")

    def test_40001_first_call_only_succeeds(self):
        r = self.req("GET", "/flaky")
        self.assertEqual(self.assert_json(r), {"x": "second try"})
        self.assertEqual(seq_used("flaky_seq"), 2)

    def test_statement_timeout_504_connection_kept(self):
        with self.daemon.connect() as c:
            pid1 = c.roundtrip("GET", "/pid").json()["pid"]
            t0 = time.monotonic()
            r = c.roundtrip("GET", "/sleep", timeout=8 * harness.SLOW)
            took = time.monotonic() - t0
            self.assert_problem(r, 504)
            self.assertFalse(r.closes())
            self.assertLess(took, 5 * harness.SLOW,
                            "timeout: 1s must cut pg_sleep(10) short")
            r2 = c.roundtrip("GET", "/obj?n=1")
            self.assertEqual(r2.status, 200)
            # pool_size 1: the same database connection served it
            pid2 = c.roundtrip("GET", "/pid").json()["pid"]
            self.assertEqual(pid1, pid2)


class TestBinding(SqlCase):

    HOSTILE = [
        "it's \"quoted\"",
        "'; DROP TABLE notes; --",
        "\"); DELETE FROM notes; --",
        "back\\slash \\\\ \\' \\x41 \\u0041",
        ":body.title and :path.id and $1 and ? and %s",
        "emoji \U0001F600\U0001F4A3 \u00e9\u0301 \u202e rtl",
        "tab\tnewline\ncr\r bell\x07 del\x7f",
        "$$ dollar $$ $tag$ x $tag$",
        "/* comment */ -- line",
        "",
    ]

    def test_hostile_body_members_byte_for_byte(self):
        for s in self.HOSTILE:
            r = self.req("POST", "/notes", {"title": s, "body": s + "!"})
            nid = self.assert_json(r, 201)["id"]
            self.assertEqual(self.stored_title_hex(nid), self.hexstr(s), s)
            self.assertEqual(CLUSTER.value(
                "SELECT encode(convert_to(body, 'UTF8'), 'hex') FROM notes "
                "WHERE id = %d" % nid), self.hexstr(s + "!"))
            # and it comes back unchanged through a result
            got = self.assert_json(self.req("GET", "/notes/%d/title" % nid))
            self.assertEqual(got, s)
        self.assertEqual(CLUSTER.value(
            "SELECT to_regclass('notes') IS NOT NULL"), "t")

    def test_hostile_path_params_byte_for_byte(self):
        strings = [
            "it's \"quoted\"", "'; DROP TABLE notes; --",
            "back\\slash\\", ":path.name", "emoji \U0001F600",
            "%41 not decoded twice", "a+b", "?#&=",
        ]
        for s in strings:
            enc = urllib.parse.quote(s, safe="")
            r = self.req("POST", "/labels/" + enc, {})
            self.assertEqual(r.status, 204, (s, r.body))
            self.assertEqual(CLUSTER.value(
                "SELECT count(*) FROM labels WHERE "
                "encode(convert_to(name, 'UTF8'), 'hex') = '%s'" %
                self.hexstr(s)), "1", s)
        self.assertEqual(self.count("labels"), len(strings))
        nid = self.assert_json(self.req("POST", "/notes", {
            "title": "'; DROP TABLE notes; --"}), 201)["id"]
        r = self.req("GET", "/by-title/" + urllib.parse.quote(
            "'; DROP TABLE notes; --", safe=""))
        ids = [x["id"] for x in self.assert_json(r)]
        self.assertIn(nid, ids)
        self.assertEqual(CLUSTER.value(
            "SELECT to_regclass('notes') IS NOT NULL"), "t")

    def test_one_mebibyte_string(self):
        unit = "ab'\"\\ \u00e9\U0001F600;--\n"
        s = (unit * (1048576 // len(unit) + 1))[:1048576]
        body = json.dumps({"title": s}, ensure_ascii=False).encode("utf-8")
        self.assertGreater(len(body), 1048576)
        self.assertLess(len(body), 2 * 1048576)
        r = self.req("POST", "/notes", body, timeout=30)
        nid = self.assert_json(r, 201)["id"]
        row = CLUSTER.rows("SELECT md5(title), char_length(title), "
                           "octet_length(title) FROM notes WHERE id = %d" %
                           nid)
        raw = s.encode("utf-8")
        self.assertEqual(row, [[hashlib.md5(raw).hexdigest(), str(len(s)),
                                str(len(raw))]])

    def test_nul_refused_before_sql(self):
        n0 = self.count("notes")
        seq0 = CLUSTER.value("SELECT last_value FROM notes_id_seq")
        for body in ('{"title": "a\\u0000b"}', '{"title": "\\u0000"}',
                     '{"title": "ok", "body": "x\\u0000"}'):
            r = self.req("POST", "/notes", body)
            p = self.assert_problem(r, 422)
            self.assertTrue(p.get("errors"), p)
        self.assertEqual(self.count("notes"), n0)
        # nothing reached PostgreSQL: not even a sequence value was used
        self.assertEqual(CLUSTER.value("SELECT last_value FROM notes_id_seq"),
                         seq0)

    def test_whole_body_into_jsonb(self):
        body = ('{"a": 0.1, "big": 12345678901234567890.5, '
                '"s": "q\\"uote \\u00e9", "n": null, "l": [1, 1.0, 1e2], '
                '"o": {"k": true}}')
        r = self.req("POST", "/docs", body)
        did = self.assert_json(r)
        self.assertIsInstance(did, int)
        got = CLUSTER.value("SELECT doc::text FROM docs WHERE id = %d" % did)
        self.assertEqual(
            got, '{"a": 0.1, "l": [1, 1.0, 100], "n": null, "o": {"k": true},'
            ' "s": "q\\"uote \u00e9", "big": 12345678901234567890.5}')
        self.assertEqual(CLUSTER.value(
            "SELECT doc->>'big' FROM docs WHERE id = %d" % did),
            "12345678901234567890.5")

    def test_query_default_required_and_optional(self):
        r = self.req("GET", "/list?q=x")
        self.assertEqual(self.assert_json(r),
                         {"lim": 20, "q": "x", "opt": None})
        r = self.req("GET", "/list?q=a+b&limit=7&opt=")
        self.assertEqual(self.assert_json(r),
                         {"lim": 7, "q": "a+b", "opt": ""})
        r = self.req("GET", "/list?q=%27%3B%20DROP")
        self.assertEqual(self.assert_json(r)["q"], "'; DROP")
        r = self.req("GET", "/list")
        p = self.assert_problem(r, 400)
        self.assertIn("/q", [e["pointer"] for e in p["errors"]])
        r = self.req("GET", "/list?q=x&limit=101")
        p = self.assert_problem(r, 400)
        self.assertEqual([e["pointer"] for e in p["errors"]], ["/limit"])
        r = self.req("GET", "/list?q=x&limit=0")
        self.assert_problem(r, 400)


class TestOutage(unittest.TestCase):
    """PostgreSQL stopped (immediate) under load, then started again."""

    def test_postgres_stopped_under_load(self):
        d = pg.PgDaemon(CLUSTER, name="sqlout", workers=2, db="bw_outage",
                        routes=[route("one", "GET", "/one",
                                      sql="SELECT count(*) AS n FROM t")],
            config={"database": {"pool_size": 2, "queue_timeout": "1s"}})
        d.start()
        try:
            self.run_outage(d)
        finally:
            if CLUSTER is not None and not CLUSTER.reachable():
                CLUSTER.start_server()
            d.stop_and_check()

    def run_outage(self, d):
        d.wait_db_ready("/one")
        workers = set(d.worker_pids())
        self.assertEqual(len(workers), 2)
        # every pool connection is up before counting
        deadline = time.monotonic() + 10
        while (CLUSTER.bulwark_backends("bw_outage") < 4 and
               time.monotonic() < deadline):
            time.sleep(0.1)
        before = CLUSTER.bulwark_backends("bw_outage")
        self.assertGreaterEqual(before, 2)

        statuses = {}
        errors = []
        stop = threading.Event()
        phase = ["up"]

        def load():
            while not stop.is_set():
                try:
                    r = d.request("GET", "/one", timeout=10)
                    key = (phase[0], r.status)
                    statuses[key] = statuses.get(key, 0) + 1
                except Exception as e:       # noqa: BLE001
                    errors.append(repr(e))
                time.sleep(0.01)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            phase[0] = "stopping"
            CLUSTER.stop_server("immediate")
            phase[0] = "down"
            time.sleep(2.0)
            down = {s for (ph, s), n in statuses.items() if ph == "down"}
            phase[0] = "starting"
            CLUSTER.start_server()
            phase[0] = "restarted"
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [], "requests failed at the connection "
                         "level during the outage")
        self.assertEqual(down, {503}, "while PostgreSQL is down every "
                         "answer is 503: %r" % statuses)
        allowed = {200, 503}
        self.assertTrue({s for (_, s) in statuses} <= allowed, statuses)
        self.assertIsNone(d.proc.poll(), "the master exited")
        self.assertEqual(set(d.worker_pids()), workers,
                         "a worker crashed during the outage")

        # every worker serves again (backoff is capped at 2 s)
        served = set()
        deadline = time.monotonic() + 20 * harness.SLOW
        while served != workers:
            self.assertLess(time.monotonic(), deadline,
                            "workers serving again: %r of %r" %
                            (served, workers))
            with d.connect() as c:
                owner = d.worker_of(c)
                r = c.roundtrip("GET", "/one", timeout=10)
            if r.status == 200 and owner is not None:
                served.add(owner)
            elif r.status != 200:
                self.assertEqual(r.status, 503)
                time.sleep(0.1)
        self.assertEqual(set(d.worker_pids()), workers)

        # no connection was leaked by the reconnects
        time.sleep(2.5)
        after = CLUSTER.bulwark_backends("bw_outage")
        self.assertGreater(after, 0)
        self.assertLessEqual(after, before)


class TestReloadCheck(unittest.TestCase):
    """SIGHUP: the statements are checked in a child of the master, whose
    verdict and type catalog come back to it."""

    def setUp(self):
        self.d = pg.PgDaemon(CLUSTER, name="sqlreload", workers=2,
                             db="bw_reload", routes=[self.arr("int[]")])
        self.d.start()
        self.d.wait_db_ready("/arr")

    def tearDown(self):
        self.d.stop_and_check()

    @staticmethod
    def arr(cast, name="arr"):
        return route(name, "GET", "/" + name,
                     sql="SELECT ARRAY[1, 2]::%s AS v" % cast)

    def reload(self, routes):
        """Writes routes, SIGHUP; the log from then until the reload took
        over or failed."""
        d = self.d
        before = d.stderr_size()
        d.write_config(routes=routes)
        d.signal(signal.SIGHUP)
        deadline = time.monotonic() + 20 * harness.SLOW
        while True:
            text = d.stderr_text()[before:]
            if "reload failed" in text or "serving with" in text:
                return text
            self.assertLess(time.monotonic(), deadline, d.stderr_tail())
            time.sleep(0.1)

    def test_new_domain_reaches_the_workers(self):
        CLUSTER.psql("CREATE DOMAIN reload_pos AS int CHECK (VALUE > 0)",
                     db="bw_reload")
        text = self.reload([self.arr("int[]"),
                            self.arr("reload_pos[]", "domarr")])
        self.assertIn("checking the statements against the database", text)
        self.assertIn("serving with", text)
        # reload_pos[] has its own type oid, which the master learns from
        # the check's catalog: unmapped, the array would be a string.
        deadline = time.monotonic() + 10 * harness.SLOW
        for _ in range(4 * self.d.workers):
            r = self.d.request("GET", "/domarr")
            while r.status in (404, 503) and time.monotonic() < deadline:
                time.sleep(0.1)
                r = self.d.request("GET", "/domarr")
            self.assertEqual(r.body, b'{"v":[1,2]}')

    def test_statement_that_does_not_prepare_fails_the_reload(self):
        text = self.reload([self.arr("int[]"), route(
            "missing", "GET", "/missing",
            sql="SELECT id FROM no_such_table_for_reload")])
        self.assertIn("reload failed", text)
        self.assertRegex(text, re.escape(self.d.conf_path) +
                         r":\d+:\d+: .*missing")
        for _ in range(2 * self.d.workers):
            self.assertEqual(self.d.request("GET", "/arr").status, 200)
            self.assertEqual(self.d.request("GET", "/missing").status, 404)


class TestCheckConfig(unittest.TestCase):

    def write(self, d, extra_routes_text):
        """Writes d's configuration followed by routes given as YAML text;
        returns (path, first line number of the routes text)."""
        cfg = d.base_config()
        cfg["database"] = d.database_config()
        text = harness.to_yaml(cfg) + "routes:\n"
        first = text.count("\n") + 1
        with open(d.conf_path, "w") as fp:
            fp.write(text + extra_routes_text)
        return first

    def test_missing_table_names_route_and_line(self):
        d = pg.PgDaemon(CLUSTER, routes=[route("x", "GET", "/x")],
                        name="sqlt-t")
        try:
            first = self.write(d, (
                "  - name: fine\n"
                "    method: GET\n"
                "    path: /fine\n"
                "    roles: [public]\n"
                "    sql: \"SELECT count(*) AS n FROM notes\"\n"
                "  - name: missing_table\n"
                "    method: GET\n"
                "    path: /missing\n"
                "    roles: [public]\n"
                "    sql: \"SELECT id FROM no_such_table\"\n"))
            rc, out, err = d.check()
            self.assertEqual(rc, 1, err)
            want = "%s:%d:10: " % (d.conf_path, first + 9)
            lines = [ln for ln in err.splitlines() if ln.startswith(want)]
            self.assertEqual(len(lines), 1, err)
            self.assertIn("missing_table", lines[0])
            self.assertNotIn("route fine", err)
            self.assertNotIn("configuration OK", out)
            # the same file passes without the database checks
            rc, out, err = d.check("--no-db")
            self.assertEqual(rc, 0, err)
            self.assertIn("configuration OK", out)
        finally:
            d.cleanup()

    def test_good_config_with_database(self):
        d = pg.PgDaemon(CLUSTER, routes=main_routes(), name="sqlt-ok")
        try:
            rc, out, err = d.check()
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.strip(), "configuration OK")
        finally:
            d.cleanup()

    def test_value_route_with_two_columns(self):
        d = pg.PgDaemon(CLUSTER, routes=[route("x", "GET", "/x")],
                        name="sqlt-v")
        try:
            first = self.write(d, (
                "  - name: two_cols\n"
                "    method: GET\n"
                "    path: /v\n"
                "    roles: [public]\n"
                "    result: value\n"
                "    sql: \"SELECT 1 AS a, 2 AS b\"\n"))
            rc, _, err = d.check()
            self.assertEqual(rc, 1, err)
            self.assertIn("%s:%d:10: " % (d.conf_path, first + 5), err)
            self.assertIn("two_cols", err)
        finally:
            d.cleanup()

    def test_demo_configuration(self):
        # conf/demo.yaml over scripts/demo-sql.sql, as scripts/demo renders
        # it, prepares every route (make demo runs the same check)
        CLUSTER.psql("CREATE DATABASE bw_demo")
        with open(os.path.join(harness.REPO, "scripts", "demo-sql.sql")) as f:
            CLUSTER.psql(f.read(), db="bw_demo")
        d = pg.PgDaemon(CLUSTER, routes=[route("x", "GET", "/x")],
                        name="sqlt-demo", db="bw_demo")
        try:
            db = d.database_config()
            with open(os.path.join(harness.REPO, "conf", "demo.yaml")) as f:
                text = f.read()
            for k, v in (("DIR", d.dir), ("PORT", str(d.port)),
                         ("WORKER_USER", d.user), ("WORKER_GROUP", d.group),
                         ("CONNINFO", db["conninfo"]),
                         ("PASSWORD_FILE", db.get("password_file", "null"))):
                text = text.replace("@%s@" % k, v)
            self.assertEqual([t for t in re.findall(r"@[A-Z_]+@", text)
                              if t != "@NAME@"], [], "unknown token")
            with open(d.conf_path, "w") as fp:
                fp.write(text)
            # As scripts/demo does: a signing key, then the bulwark schema.
            for args in (["--gen-key", "ed25519",
                          os.path.join(d.dir, "jwt.pem")],
                         ["-c", d.conf_path, "--init-db"]):
                p = subprocess.run([harness.BULWARKD] + args,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE,
                                   env=harness.child_env(), timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
            rc, out, err = d.check()
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.strip(), "configuration OK")
        finally:
            d.cleanup()

    def test_unreachable_database_exits_3(self):
        d = pg.PgDaemon(CLUSTER, routes=[route("x", "GET", "/x")],
                        name="sqlt-u")
        try:
            cfg = d.base_config()
            cfg["database"] = d.database_config()
            cfg["database"]["conninfo"] = (
                "host=127.0.0.1 port=%d dbname=nope user=nobody" %
                harness.free_port())
            cfg["routes"] = [route("x", "GET", "/x")]
            with open(d.conf_path, "w") as fp:
                fp.write(harness.to_yaml(cfg))
            rc, out, err = d.check()
            self.assertEqual(rc, 3, err)
            self.assertNotIn("configuration OK", out)
            rc, out, err = d.check("--no-db")
            self.assertEqual(rc, 0, err)
        finally:
            d.cleanup()


class TestReadsShareABackend(unittest.TestCase):
    """A read (the request of a GET route) joins a connection busy with
    reads whose backend answered within the last 5 ms; a read never waits
    behind a write, which goes to an idle connection (bulwark.yaml(5),
    pool_size)."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = pg.PgDaemon(
            CLUSTER, name="sqlshare", workers=1,
            routes=[route("pid", "GET", "/pid",
                          sql="SELECT pg_backend_pid() AS pid"),
                    route("wnap", "POST", "/wnap", body={"type": "object"},
                          sql="SELECT pg_backend_pid() AS pid, "
                              "pg_sleep(1) IS NULL AS n")],
            config={"database": {"pool_size": 4}})
        cls.daemon.start()
        cls.daemon.wait_db_ready("/pid")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop_and_check()

    def test_read_not_behind_a_write(self):
        """A slow write on one connection, then GET /pid on another: the
        read gets another backend, at once."""
        a, b = self.daemon.connect(), self.daemon.connect()
        try:
            a.send(harness.build_request("POST", "/wnap", J(), b"{}"))
            t0 = time.monotonic()
            b.send(harness.build_request("GET", "/pid"))
            quick = b.read_final(timeout=10 * harness.SLOW)
            took = time.monotonic() - t0
            first = a.read_final(timeout=10 * harness.SLOW)
        finally:
            a.close()
            b.close()
        self.assertEqual((first.status, quick.status), (200, 200))
        self.assertNotEqual(first.json()["pid"], quick.json()["pid"])
        self.assertLess(took, 0.9)

    def test_reads_sent_together_share_a_backend(self):
        # Sixteen reads at once: spread over the idle connections they
        # would use four backends.  A backend that stalls for 5 ms on a
        # loaded machine lets the next reads go elsewhere, so three tries.
        tries = []
        for _ in range(3):
            conns = [self.daemon.connect() for _ in range(16)]
            try:
                for c in conns:
                    c.send(harness.build_request("GET", "/pid"))
                answers = [c.read_final(timeout=10 * harness.SLOW)
                           for c in conns]
            finally:
                for c in conns:
                    c.close()
            self.assertEqual({r.status for r in answers}, {200})
            tries.append({r.json()["pid"] for r in answers})
            if len(tries[-1]) == 1:
                return
        self.fail("reads sent together used several backends: %r" % tries)


class TestRequestTimeout(unittest.TestCase):
    """SPEC 7: when request_timeout fires before the statement is done,
    the client gets 504 and the result is discarded on arrival; the
    connection and the pool keep serving."""

    def test_request_timeout_504_then_served(self):
        d = pg.PgDaemon(CLUSTER, name="sqlreqto", workers=1,
                        routes=[route("nap", "GET", "/nap",
                                      sql="SELECT pg_sleep(0.8) IS NULL AS n",
                                      timeout="1s"),
                                route("quick", "GET", "/quick",
                                      sql="SELECT 1 AS one",
                                      timeout="1s")],
            config={"server": {"limits": {"request_timeout": "2s"}},
                    "database": {"pool_size": 1, "queue_timeout": "30s"}})
        d.start()
        try:
            d.wait_db_ready("/quick")
            # Nine statements of 0.8 s on one connection run one after
            # the other: those finishing after 2 s get request_timeout.
            conns = [d.connect() for _ in range(9)]
            for c in conns:
                c.send(harness.build_request("GET", "/nap"))
            got = []
            for c in conns:
                t0 = time.monotonic()
                r = c.read_final(timeout=15 * harness.SLOW)
                got.append((r.status, time.monotonic() - t0))
            statuses = [s for s, _ in got]
            self.assertIn(200, statuses)
            self.assertIn(504, statuses)
            self.assertEqual(set(statuses), {200, 504}, statuses)
            # The late ones were answered at request_timeout, not later.
            for s, took in got:
                if s == 504:
                    self.assertLess(took, 3.5 * harness.SLOW)
            # Abandoned statements still run to their end (nothing is
            # cancelled, SPEC 7); once they have, everything is served.
            time.sleep(9 * 0.8 - 2.0 + 0.5)
            for c in conns:
                self.assertEqual(c.roundtrip("GET", "/quick").status, 200)
                c.close()
        finally:
            d.stop_and_check()


if __name__ == "__main__":
    unittest.main()
