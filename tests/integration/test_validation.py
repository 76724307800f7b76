"""
test_validation.py - request validation in front of PostgreSQL (SPEC 5, 6).

Every class of invalid body is sent over TLS to a real bulwarkd whose
route writes into a real PostgreSQL: the status is the one SPEC 5/6
prescribes, a 422 names the failing member in `errors`, and nothing
reaches the database (row count and sequence unchanged, read with psql).
Valid bodies reach PostgreSQL with exactly the validated values: number
lexemes kept (0.1, 1.0, 12345678901234567890.5), `type: integer` members
bound in canonical form (1.0 -> 1, 1e2 -> 100).  Path and query parameters
are coerced by their schema (400 with the same errors list).  `-t --no-db`
refuses schema errors at their exact FILE:LINE:COL.

Environment: BULWARKD; PostgreSQL server binaries and psql (skipped with
the reason when missing).  Python 3 standard library only.
"""

import json
import os
import subprocess
import tempfile
import shutil
import unittest

import harness
import pg
from harness import route

CLUSTER = None
SHARED = None

SCHEMA_SQL = r"""
CREATE TABLE vals (
    id serial PRIMARY KEY,
    title text NOT NULL,
    slug text,
    email text,
    at timestamptz,
    count bigint,
    x int,
    tags jsonb,
    doc jsonb
);
CREATE TABLE nums (
    id serial PRIMARY KEY,
    n numeric,
    n_text text,
    i bigint,
    i_text text,
    m_text text
);
CREATE TABLE items (id bigint PRIMARY KEY, name text);
INSERT INTO items VALUES (1, 'one'), (7, 'seven'),
    (9223372036854775807, 'max');
"""

NOTE = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 10},
        "slug": {"type": "string", "pattern": "^[a-z]+$"},
        "digit": {"type": "string", "pattern": "^\\d$"},
        "email": {"type": "string", "format": "email"},
        "at": {"type": "string", "format": "date-time"},
        "count": {"type": "integer", "minimum": 0},
        "meta": {"type": "object",
                 "properties": {"x": {"type": "integer"}}},
        "tags": {"type": "array", "items": {"type": "string"},
                 "maxItems": 3},
    },
}

NUMS = {
    "type": "object",
    "required": ["n", "nt", "i", "it"],
    "properties": {
        "n": {"type": "number"},
        "nt": {"type": "number"},
        "i": {"type": "integer"},
        "it": {"type": "integer"},
        "m": {"type": "number", "multipleOf": pg.Plain("0.1")},
    },
}


def routes():
    return [
        route("add_val", "POST", "/vals", body="Note", status=201,
              sql="INSERT INTO vals (title, slug, email, at, count, x, "
                  "tags, doc) VALUES (:body.title, :body.slug, :body.email, "
                  ":body.at, :body.count, :body.meta.x, :body.tags, :body) "
                  "RETURNING id"),
        route("add_num", "POST", "/nums", body=NUMS, status=201,
              sql="INSERT INTO nums (n, n_text, i, i_text, m_text) VALUES "
                  "(:body.n, :body.nt, :body.i, :body.it, :body.m) "
                  "RETURNING id, n::text AS n, n_text, i::text AS i, "
                  "i_text, m_text"),
        route("item", "GET", "/items/{id}",
              params={"id": {"type": "integer", "minimum": 1}},
              sql="SELECT id, name FROM items WHERE id = :path.id"),
        route("items", "GET", "/items", result="array",
              query={"limit": {"type": "integer", "minimum": 1,
                               "maximum": 100, "default": 20},
                     "flag": {"type": "boolean"}},
              sql="SELECT id FROM items ORDER BY id "
                  "LIMIT CAST(:query.limit AS int)"),
    ]


def setUpModule():
    harness.require_binary()


def shared_daemon():
    """The cluster and the daemon, started on first use: the -t --no-db
    tests need neither (and run without PostgreSQL installed)."""
    global CLUSTER, SHARED
    if CLUSTER is None:
        c = pg.Cluster.start()
        try:
            c.psql(SCHEMA_SQL)
        except BaseException:
            c.destroy()
            raise
        CLUSTER = c
        SHARED = pg.Shared(lambda: pg.PgDaemon(
            CLUSTER, routes=routes(), name="valid",
            config={"schemas": {"Note": NOTE},
                    "server": {"limits": {"max_json_depth": 8}}}),
            "/items/1")
    return SHARED.get()


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


def nested(depth):
    """A body nesting `depth` containers in total (the object and the
    arrays in its `tags` member)."""
    inner = '"s"'
    for _ in range(depth - 1):
        inner = "[" + inner + "]"
    return '{"title": "deep", "tags": %s}' % inner


class BodyCase(unittest.TestCase):
    """Tests against the shared daemon serving routes()."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = shared_daemon()

    def post(self, body, path="/vals", ctype="application/json",
             headers=()):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        hdrs = list(headers)
        if ctype is not None:
            hdrs.insert(0, ("Content-Type", ctype))
        return self.daemon.request("POST", path, hdrs, body,
                              timeout=10 * harness.SLOW)

    def state(self):
        return CLUSTER.rows("SELECT (SELECT count(*) FROM vals), "
                            "(SELECT last_value FROM vals_id_seq), "
                            "(SELECT count(*) FROM nums)")

    def assert_problem(self, r, status):
        self.assertEqual(r.status, status, r.body[:300])
        self.assertEqual(r.header("content-type"), "application/problem+json")
        p = r.json()
        self.assertEqual(p["status"], status)
        self.assertEqual(p["instance"], r.header("x-request-id"))
        return p

    def assert_422(self, body, pointer, **kw):
        before = self.state()
        r = self.post(body, **kw)
        p = self.assert_problem(r, 422)
        self.assertEqual(p["type"], "urn:bulwark:problem:validation")
        self.assertTrue(p.get("errors"), p)
        self.assertLessEqual(len(p["errors"]), 16)
        for e in p["errors"]:
            self.assertEqual(set(e), {"pointer", "message"})
        pointers = [e["pointer"] for e in p["errors"]]
        self.assertIn(pointer, pointers, p)
        self.assertEqual(self.state(), before, "a refused body reached SQL")
        return p

    def assert_refused(self, body, status, **kw):
        before = self.state()
        r = self.post(body, **kw)
        p = self.assert_problem(r, status)
        self.assertNotIn("errors", p)
        self.assertEqual(self.state(), before, "a refused body reached SQL")
        return p


class TestBodyErrors(BodyCase):

    def test_wrong_type(self):
        self.assert_422({"title": 5}, "/title")
        self.assert_422({"title": "t", "count": "3"}, "/count")
        self.assert_422({"title": "t", "count": 1.5}, "/count")
        self.assert_422({"title": "t", "tags": ["a", 2]}, "/tags/1")
        self.assert_422({"title": "t", "meta": []}, "/meta")
        self.assert_422(["title"], "")

    def test_missing_required(self):
        before = self.state()
        r = self.post({"slug": "abc"})
        p = self.assert_problem(r, 422)
        errs = p["errors"]
        self.assertEqual(len(errs), 1, p)
        # the failing member is named: by its pointer, or (JSON Schema
        # instance location) by the object's pointer and the message
        e = errs[0]
        self.assertTrue(e["pointer"] == "/title" or
                        (e["pointer"] == "" and "title" in e["message"]), e)
        self.assertEqual(self.state(), before)

    def test_extra_property_top_level(self):
        p = self.assert_422({"title": "t", "is_admin": True}, "/is_admin")
        self.assertEqual([e["pointer"] for e in p["errors"]], ["/is_admin"])

    def test_extra_property_nested(self):
        p = self.assert_422({"title": "t", "meta": {"x": 1, "owner": "me"}},
                            "/meta/owner")
        self.assertEqual([e["pointer"] for e in p["errors"]],
                         ["/meta/owner"])

    def test_too_long_and_too_short(self):
        self.assert_422({"title": "x" * 11}, "/title")
        self.assert_422({"title": ""}, "/title")
        self.assert_422({"title": "t", "tags": ["a", "b", "c", "d"]},
                        "/tags")
        # length counts code points: 10 emoji are 10, not 40
        r = self.post({"title": "\U0001F600" * 10})
        self.assertEqual(r.status, 201, r.body)

    def test_pattern_mismatch(self):
        self.assert_422({"title": "t", "slug": "abc\n"}, "/slug")
        self.assert_422({"title": "t", "slug": "ABC"}, "/slug")
        self.assert_422({"title": "t", "slug": "ab c"}, "/slug")
        self.assert_422({"title": "t", "digit": "\u0663"}, "/digit")
        self.assertEqual(self.post({"title": "t", "slug": "abc",
                                    "digit": "3"}).status, 201)

    def test_bad_format(self):
        self.assert_422({"title": "t", "email": "not-an-email"}, "/email")
        self.assert_422({"title": "t", "email": "a@b@c"}, "/email")
        self.assert_422({"title": "t", "at": "2024-13-01T00:00:00Z"}, "/at")
        self.assert_422({"title": "t", "at": "2024-01-01 00:00:00"}, "/at")
        r = self.post({"title": "t", "email": "a.b@example.com",
                       "at": "2024-01-01T00:00:00Z"})
        self.assertEqual(r.status, 201, r.body)

    def test_nul_character(self):
        self.assert_422('{"title": "a\\u0000b"}', "/title")
        self.assert_422('{"title": "t", "tags": ["\\u0000"]}', "/tags/0")
        self.assert_422('{"title": "t", "meta": {"x": 1}, '
                        '"slug": "\\u0000"}', "/slug")

    def test_too_deep_400(self):
        p = self.assert_refused(nested(9), 400)
        self.assertEqual(p["detail"], "the request body is nested too deeply")
        # at the limit it is parsed (and fails the schema: 422, not 400)
        self.assert_422(nested(8), "/tags/0")

    def test_duplicate_key_400(self):
        p = self.assert_refused('{"title": "a", "title": "b"}', 400)
        self.assertEqual(p["detail"], "the request body is not valid JSON")
        self.assert_refused('{"title": "a", "meta": {"x": 1, "x": 2}}', 400)

    def test_invalid_utf8_400(self):
        for raw in (b'{"title": "\xff"}', b'{"title": "\xc3("}',
                    b'{"title": "\xed\xa0\x80"}',
                    b'{"title": "\xc0\xaf"}'):
            self.assert_refused(raw, 400)
        # an escaped lone surrogate is no text either: refused (JSON
        # syntax or schema), never stored
        before = self.state()
        r = self.post('{"title": "\\ud800"}')
        self.assertIn(r.status, (400, 422), r.body)
        self.assertEqual(self.state(), before)

    def test_bom_400(self):
        self.assert_refused(b'\xef\xbb\xbf{"title": "bom"}', 400)

    def test_not_json_400(self):
        for raw in (b'{"title": "a",}', b"{'title': 'a'}", b'{"title": NaN}',
                    b'{"title": "a"} x', b'{"title": "a"}{}',
                    b'{"title": 01}'):
            self.assert_refused(raw, 400)

    def test_empty_body_400(self):
        p = self.assert_refused(b"", 400)
        self.assertIn(p["detail"], harness.POST_FRAMING_400)

    def test_wrong_content_type_415(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded",
                      "application/json; charset=latin1",
                      "application/jsonx", None):
            self.assert_refused({"title": "ctype"}, 415, ctype=ctype)
        self.assert_refused({"title": "enc"}, 415,
                            headers=[("Content-Encoding", "gzip")])
        r = self.post({"title": "ok"}, ctype="Application/JSON; Charset=UTF-8")
        self.assertEqual(r.status, 201, r.body)


class TestValuesReachDatabase(BodyCase):

    def test_valid_body_exact_values(self):
        body = ('{"title": "caf\\u00e9 \\"q\\"", "slug": "abc", '
                '"email": "a.b@example.com", '
                '"at": "2024-02-29T12:34:56.5+02:00", '
                '"count": 1.0e1, "meta": {"x": 42}, '
                '"tags": ["a", "b\\\\", "\\ud83d\\ude00"]}')
        r = self.post(body)
        self.assertEqual(r.status, 201, r.body)
        vid = r.json()["id"]
        row = CLUSTER.rows(
            "SELECT title, slug, email, at::text, count::text, x::text, "
            "tags::text, doc->>'count', doc->'meta'->>'x' "
            "FROM vals WHERE id = %d" % vid)
        self.assertEqual(row, [[
            'caf\u00e9 "q"', "abc", "a.b@example.com",
            "2024-02-29 10:34:56.5+00", "10", "42",
            '["a", "b\\\\", "\U0001F600"]', "10", "42"]])

    def test_absent_members_are_null(self):
        r = self.post({"title": "only"})
        self.assertEqual(r.status, 201, r.body)
        vid = r.json()["id"]
        self.assertEqual(CLUSTER.rows(
            "SELECT slug, email, at, count, x, tags FROM vals "
            "WHERE id = %d" % vid), [[None] * 6])

    def test_number_lexemes(self):
        cases = [
            # (n, nt, i, it) as sent -> (n::text, n_text, i::text, i_text)
            (("0.1", "0.1", "1.0", "1.0"), ("0.1", "0.1", "1", "1")),
            (("1.0", "1.0", "1e2", "1e2"), ("1.0", "1.0", "100", "100")),
            (("12345678901234567890.5", "12345678901234567890.5",
              "100E-2", "9.223372036854775807e18"),
             ("12345678901234567890.5", "12345678901234567890.5", "1",
              "9223372036854775807")),
            (("1e2", "1e2", "-5", "-0.5e1"),
             ("100", "1e2", "-5", "-5")),
            (("0.10", "-0.0", "7", "70e-1"),
             ("0.10", "-0.0", "7", "7")),
        ]
        for sent, want in cases:
            body = '{"n": %s, "nt": %s, "i": %s, "it": %s}' % sent
            r = self.post(body, path="/nums")
            self.assertEqual(r.status, 201, (sent, r.body))
            got = r.json()
            self.assertEqual((got["n"], got["n_text"], got["i"],
                              got["i_text"]), want, sent)
            self.assertEqual(CLUSTER.rows(
                "SELECT n::text, n_text, i::text, i_text FROM nums "
                "WHERE id = %d" % got["id"]), [list(want)], sent)

    def test_integer_outside_int64_fails(self):
        before = self.state()
        for it in ("9223372036854775808", "-9223372036854775809",
                   "1e19", "12345678901234567890"):
            r = self.post('{"n": 1, "nt": 1, "i": 1, "it": %s}' % it,
                          path="/nums")
            p = self.assert_problem(r, 422)
            self.assertEqual([e["pointer"] for e in p["errors"]], ["/it"])
        self.assertEqual(self.state(), before)

    def test_multiple_of_exact_decimal(self):
        for m in ("0.3", "12345678901234567890.1", "1e-1", "0"):
            r = self.post('{"n": 1, "nt": 1, "i": 1, "it": 1, "m": %s}' % m,
                          path="/nums")
            self.assertEqual(r.status, 201, (m, r.body))
            self.assertEqual(r.json()["m_text"], m)
        before = self.state()
        for m in ("0.35", "1e-2"):
            r = self.post('{"n": 1, "nt": 1, "i": 1, "it": 1, "m": %s}' % m,
                          path="/nums")
            p = self.assert_problem(r, 422)
            self.assertEqual([e["pointer"] for e in p["errors"]], ["/m"])
        self.assertEqual(self.state(), before)


class TestParameters(BodyCase):

    def get(self, path):
        return self.daemon.request("GET", path, timeout=10 * harness.SLOW)

    def assert_400(self, path, pointer):
        r = self.get(path)
        p = self.assert_problem(r, 400)
        self.assertEqual(p["detail"], "the request parameters are invalid")
        self.assertTrue(p.get("errors"), p)
        if pointer is not None:
            self.assertIn(pointer, [e["pointer"] for e in p["errors"]], p)
        return p

    def test_path_integer_coercion(self):
        self.assertEqual(self.get("/items/7").json(),
                         {"id": 7, "name": "seven"})
        self.assertEqual(self.get("/items/%37").json()["id"], 7)
        self.assertEqual(self.get("/items/9223372036854775807").json(),
                         {"id": 9223372036854775807, "name": "max"})
        self.assertEqual(self.get("/items/5").status, 404)
        for bad in ("abc", "007", "07", "+7", "7.0", "1e1", "0x7", "%207",
                    "7%20", "9223372036854775808", "99999999999999999999",
                    "-1", "0", "-0"):
            p = self.assert_400("/items/" + bad, "/id")
            self.assertEqual(p["type"], "urn:bulwark:problem:validation")
        # a segment that does not decode to text (control, invalid UTF-8,
        # an encoded slash) is refused before coercion
        for bad in ("%00", "%ff", "a%2Fb", "%0a"):
            r = self.get("/items/" + bad)
            p = self.assert_problem(r, 400)
            self.assertEqual(p["detail"], "the request parameters are invalid")

    def test_query_coercion(self):
        self.assertEqual(len(self.get("/items").json()), 3)
        self.assertEqual(self.get("/items?limit=2").json(),
                         [{"id": 1}, {"id": 7}])
        self.assertEqual(self.get("/items?flag=true").status, 200)
        self.assert_400("/items?limit=abc", "/limit")
        self.assert_400("/items?limit=02", "/limit")
        self.assert_400("/items?limit=101", "/limit")
        self.assert_400("/items?limit=", "/limit")
        self.assert_400("/items?flag=1", "/flag")
        self.assert_400("/items?flag=TRUE", "/flag")

    def test_undeclared_query_parameter(self):
        self.assert_400("/items?limit=1&admin=1", None)
        self.assert_400("/items?x", None)
        # on a route without any query parameter too
        self.assert_400("/items/7?limit=1", None)

    def test_repeated_query_parameter(self):
        self.assert_400("/items?limit=1&limit=2", "/limit")
        self.assert_400("/items?limit=1&limit=1", "/limit")


class TestSchemaLoadErrors(unittest.TestCase):
    """-t --no-db: schema errors at their exact FILE:LINE:COL."""

    PRE = ("version: 1\n"                              # 1
           "server:\n"                                 # 2
           "  listen: [\"127.0.0.1:8443\"]\n"          # 3
           "  user: {user}\n"                          # 4
           "  group: {group}\n"                        # 5
           "  tls:\n"                                  # 6
           "    certificate: {cert}\n"                 # 7
           "    private_key: {key}\n"                  # 8
           "database:\n"                               # 9
           "  conninfo: \"host=127.0.0.1 dbname=x\"\n"  # 10
           "schemas:\n")                               # 11
    # schema text starts on line 12
    ROUTE = ("routes:\n"
             "  - name: r\n"
             "    method: POST\n"
             "    path: /r\n"
             "    roles: [public]\n"
             "    body: {body}\n"
             "    sql: \"{sql}\"\n")

    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        cls.dir = tempfile.mkdtemp(prefix="bw-valid-t-")
        os.chmod(cls.dir, 0o755)
        cert, key = harness.shared_cert()
        cls.cert = os.path.join(cls.dir, "cert.pem")
        cls.key = os.path.join(cls.dir, "key.pem")
        shutil.copy(cert, cls.cert)
        shutil.copy(key, cls.key)
        os.chmod(cls.key, 0o600)
        cls.user, cls.group = harness.service_identity()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check(self, schemas, body="\"S\"", name="bulwark.yaml",
              sql="SELECT 1 AS one"):
        text = (self.PRE.format(user=self.user, group=self.group,
                                cert=self.cert, key=self.key) +
                schemas + self.ROUTE.format(body=body, sql=sql))
        path = os.path.join(self.dir, name)
        with open(path, "w") as fp:
            fp.write(text)
        p = subprocess.run([harness.BULWARKD, "-t", "--no-db", "-c", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=harness.child_env(), timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error:", err)
        errors = [ln for ln in err.splitlines()
                  if ln.startswith(path + ":") and ": warning:" not in ln]
        return p.returncode, path, errors, err

    def assert_errors(self, schemas, where, body="\"S\""):
        """where: [(line, col, text in message)] in file order."""
        rc, path, errors, err = self.check(schemas, body)
        self.assertEqual(rc, 1, err)
        # (printing an error twice is test_each_error_reported_once's)
        errors = [e for i, e in enumerate(errors) if e not in errors[:i]]
        want = ["%s:%d:%d: " % (path, ln, col) for ln, col, _ in where]
        self.assertEqual([e[:len(w)] for e, w in zip(errors, want)], want,
                         err)
        self.assertEqual(len(errors), len(where), err)
        for e, (_, _, text) in zip(errors, where):
            self.assertIn(text, e)

    def test_valid_reference(self):
        rc, _, errors, err = self.check(
            "  S:\n"
            "    type: object\n"
            "    properties:\n"
            "      a: {type: string, pattern: \"^[a-z]+$\", format: email}\n")
        self.assertEqual((rc, errors), (0, []), err)

    def test_schema_name_as_body_any_style(self):
        # SPEC 4: a plain scalar is a string as much as a quoted one, so
        # `body: S`, `body: "S"` and `body: {$ref: S}` name the same schema,
        # and :body.a is reachable through its properties in all three
        schemas = ("  S:\n"
                   "    type: object\n"
                   "    properties:\n"
                   "      a: {type: string}\n")
        for body in ("S", "\"S\"", "{$ref: S}"):
            rc, _, errors, err = self.check(schemas, body=body,
                                            sql="SELECT :body.a AS a")
            self.assertEqual((rc, errors), (0, []), "body: %s\n%s" %
                             (body, err))

    def test_unsupported_keyword(self):
        self.assert_errors(
            "  S:\n"                                   # 12
            "    type: object\n"                       # 13
            "    properties:\n"                        # 14
            "      a: {type: string, maxLenght: 3}\n",  # 15
            [(15, 25, "maxLenght")])

    def test_bad_regex(self):
        self.assert_errors(
            "  S:\n"
            "    type: object\n"
            "    properties:\n"
            "      a:\n"                               # 15
            "        pattern: \"([a-z]\"\n",           # 16
            [(16, 18, "pattern")])

    def test_unknown_format(self):
        self.assert_errors(
            "  S:\n"
            "    type: object\n"
            "    properties:\n"
            "      a: {type: string, format: phone}\n",   # 15
            [(15, 33, "phone")])

    def test_unresolvable_ref(self):
        self.assert_errors(
            "  S:\n"
            "    type: object\n"
            "    properties:\n"
            "      a: {$ref: \"#/$defs/nope\"}\n",          # 15
            [(15, 17, "$ref")])

    def test_unresolvable_named_ref(self):
        self.assert_errors(
            "  S:\n"
            "    type: object\n"
            "    properties:\n"
            "      a:\n"
            "        $ref: Missing\n",                      # 16
            [(16, 15, "Missing")])

    def test_cycle_without_progress(self):
        self.assert_errors(
            "  S:\n"                                   # 12
            "    type: object\n"                       # 13
            "    additionalProperties: false\n"        # 14
            "    allOf:\n"                             # 15
            "      - $ref: \"#\"\n",                   # 16
            [(16, 15, "cycle")])

    def test_combinator_without_additional_properties(self):
        # SPEC 6: needed when a member declares properties
        self.assert_errors(
            "  S:\n"                                   # 12
            "    type: object\n"                       # 13
            "    properties:\n"                        # 14
            "      a: {type: string}\n"                # 15
            "    anyOf:\n"                             # 16
            "      - properties: {a: {minLength: 2}}\n",  # 17
            [(13, 5, "additionalProperties")])

    def test_combinator_members_without_properties(self):
        # SPEC 6: members that declare neither properties nor
        # patternProperties need no explicit additionalProperties
        rc, _, errors, err = self.check(
            "  S:\n"
            "    type: object\n"
            "    properties:\n"
            "      v:\n"
            "        anyOf:\n"
            "          - {type: string}\n"
            "          - {type: integer, minimum: 10}\n"
            "    oneOf:\n"
            "      - required: [v]\n")
        self.assertEqual((rc, errors), (0, []), err)

    def test_combinator_inline_body(self):
        # an inline body schema (flow mapping): the position of its `{`
        rc, path, errors, err = self.check(
            "  S: {type: object}\n",
            body="{type: object, properties: {a: {}}, "
                 "oneOf: [{properties: {a: {type: string}}}]}")
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(errors), 1, err)
        # "    body: " is 10 columns: the `{` is column 11 of line 18
        self.assertTrue(errors[0].startswith("%s:18:11: " % path), err)
        self.assertIn("additionalProperties", errors[0])

    def test_combinator_allowed_outside_body(self):
        # the same schema as a named schema used only as a parameter
        # schema is fine (standard default), and stated explicitly it is
        # fine as a body too
        rc, _, errors, err = self.check(
            "  S:\n"
            "    type: object\n"
            "    additionalProperties: false\n"
            "    properties:\n"
            "      a: {type: string}\n"
            "    anyOf:\n"
            "      - required: [a]\n")
        self.assertEqual((rc, errors), (0, []), err)

    def test_all_errors_in_file_order(self):
        self.assert_errors(
            "  S:\n"                                   # 12
            "    type: object\n"                       # 13
            "    additionalProperties: false\n"        # 14
            "    properties:\n"                        # 15
            "      a: {type: string, format: phone}\n"  # 16
            "      b: {pattern: \"(\"}\n"              # 17
            "      c: {$ref: \"#/$defs/x\"}\n"         # 18
            "      d: {minimumm: 1}\n",                # 19
            [(16, 33, "phone"), (17, 20, "pattern"), (18, 17, "$ref"),
             (19, 11, "minimumm")])

    def test_each_error_reported_once(self):
        # a named schema used as a request body is compiled for that use
        # too; its errors must still be printed once each
        rc, path, errors, err = self.check(
            "  S:\n"
            "    type: object\n"
            "    additionalProperties: false\n"
            "    properties:\n"
            "      a: {type: string, format: phone}\n"   # 16
            "      d: {minimumm: 1}\n")                  # 17
        self.assertEqual(rc, 1, err)
        self.assertEqual(errors, [e for i, e in enumerate(errors)
                                  if e not in errors[:i]],
                         "an error is printed more than once:\n" + err)
        self.assertEqual(len(errors), 2, err)


if __name__ == "__main__":
    unittest.main()
