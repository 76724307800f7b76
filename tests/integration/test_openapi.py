"""
test_openapi.py - bulwarkd --openapi (SPEC 3): the OpenAPI 3.1 document of
a configuration with declared routes, named and inline schemas (with $defs
and references between them), roles, public routes, API keys and the
built-in /auth endpoints.

The document is checked three ways: by an independent OpenAPI 3.1
validator from npm (@seriousme/openapi-schema-validator, installed into
build/npm on first use when Node.js and npm are present; skipped with the
reason otherwise), by resolving every $ref in it, and against the
configuration: every route is an operation with its parameters, body,
responses and security.

Environment: BULWARKD.  No database: --openapi reads only the configuration.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
NPM_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "npm")
VALIDATOR = "@seriousme/openapi-schema-validator@2"

SCHEMAS = {
    "NewNote": {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"$ref": "#/$defs/title"},
            "body": {"type": "string", "maxLength": 10000},
            "tags": {"type": "array", "items": {"$ref": "Tag"}},
        },
        "$defs": {"title": {"type": "string", "minLength": 1,
                            "maxLength": 200}},
    },
    "Tag": {"type": "string", "pattern": "^[a-z]+$",
            "enum": ["a", "b"], "default": "a"},
}

ROUTES = [
    harness.route("get_note", "GET", "/notes/{id}", roles=["reader"],
                  params={"id": {"type": "integer", "minimum": 1}},
                  sql="SELECT 1 AS id WHERE :path.id > 0", result="object"),
    harness.route("list_notes", "GET", "/notes", roles=["public"],
                  query={"limit": {"type": "integer", "maximum": 100},
                         "q": {"type": "string"}},
                  query_required=["limit"],
                  sql="SELECT 1 AS id LIMIT :query.limit", result="array",
                  rate_limit={"by": "ip", "rate": "10/s", "burst": 10}),
    harness.route("add_note", "POST", "/notes", roles=["editor"],
                  body="NewNote", sql="SELECT 1 AS id", result="object",
                  status=201),
    harness.route("put_note", "PUT", "/notes/{id}", roles=["editor"],
                  params={"id": {"type": "integer"}},
                  body={"type": "object",
                        "properties": {"n": {"$ref": "#/$defs/n"}},
                        "$defs": {"n": {"type": "integer"}}},
                  sql="SELECT 1 WHERE :path.id > 0", result="none"),
    harness.route("del_note", "DELETE", "/notes/{id}", roles=["admin"],
                  params={"id": {"type": "integer"}},
                  sql="SELECT 1 WHERE :path.id > 0", result="none"),
    harness.route("count_notes", "GET", "/count", roles=["reader"],
                  sql="SELECT 1", result="value"),
]


def refs(doc, out):
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "$ref" and isinstance(v, str):
                out.append(v)
            else:
                refs(v, out)
    elif isinstance(doc, list):
        for v in doc:
            refs(v, out)
    return out


def resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def validator_dir():
    """build/npm with the validator installed, or None with the reason."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "Node.js/npm not installed"
    mod = os.path.join(NPM_DIR, "node_modules", "@seriousme",
                       "openapi-schema-validator")
    if os.path.isdir(mod):
        return NPM_DIR, None
    os.makedirs(NPM_DIR, exist_ok=True)
    p = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "--prefix", NPM_DIR, VALIDATOR],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    if p.returncode != 0 or not os.path.isdir(mod):
        return None, "npm install %s failed: %s" % (
            VALIDATOR, p.stdout.decode("utf-8", "replace")[-500:])
    return NPM_DIR, None


class TestOpenApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(name="openapi")
        key = os.path.join(cls.d.dir, "jwt.pem")
        harness.gen_key("ed25519", key)
        cls.d.write_config({
            "auth": {"issuer": "https://bulwark.test",
                     "audience": "bulwark.test", "signing_key_file": key},
            "roles": {"admin": {"inherits": ["editor"]},
                      "editor": {"inherits": ["reader"]}, "reader": {}},
            "schemas": SCHEMAS,
        }, routes=ROUTES)
        p = subprocess.run([harness.BULWARKD, "-c", cls.d.conf_path,
                            "--openapi"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=harness.child_env(),
                           timeout=60)
        cls.rc, cls.out = p.returncode, p.stdout
        cls.err = p.stderr.decode("utf-8", "replace")
        cls.doc = json.loads(p.stdout) if p.returncode == 0 else None

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def setUp(self):
        self.assertEqual(self.rc, 0, self.err)

    def op(self, path, method):
        return self.doc["paths"][path][method]

    def test_independent_validator(self):
        d, why = validator_dir()
        if d is None:
            self.skipTest(why)
        with tempfile.NamedTemporaryFile("wb", suffix=".json") as f:
            f.write(self.out)
            f.flush()
            p = subprocess.run(["node", os.path.join(HERE,
                                "openapi-validate.mjs"), d, f.name],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual(p.stdout.decode().strip(), "valid")

    def test_version_and_dialect(self):
        self.assertEqual(self.doc["openapi"], "3.1.0")
        self.assertEqual(self.doc["jsonSchemaDialect"],
                         "https://json-schema.org/draft/2020-12/schema")

    def test_every_route_is_an_operation(self):
        ids = {}
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                ids[op["operationId"]] = (path, method)
        for r in ROUTES:
            self.assertEqual(ids.get(r["name"]),
                             (r["path"], r["method"].lower()), r["name"])
        for name, suffix, method in [("auth_login", "login", "post"),
                                     ("auth_refresh", "refresh", "post"),
                                     ("auth_logout", "logout", "post"),
                                     ("auth_me", "me", "get"),
                                     ("auth_password", "password", "post")]:
            self.assertEqual(ids.get(name), ("/auth/" + suffix, method))
        self.assertEqual(len(ids), len(ROUTES) + 5)

    def test_every_reference_resolves(self):
        found = refs(self.doc, [])
        self.assertGreater(len(found), 20)
        for r in found:
            resolve(self.doc, r)

    def test_named_schema_references_rewritten(self):
        s = self.doc["components"]["schemas"]
        self.assertEqual(s["NewNote"]["properties"]["title"]["$ref"],
                         "#/components/schemas/NewNote/$defs/title")
        self.assertEqual(s["NewNote"]["properties"]["tags"]["items"]["$ref"],
                         "#/components/schemas/Tag")
        self.assertEqual(s["Tag"]["default"], "a")
        body = self.op("/notes", "post")["requestBody"]
        self.assertTrue(body["required"])
        self.assertEqual(body["content"]["application/json"]["schema"],
                         {"$ref": "#/components/schemas/NewNote"})

    def test_inline_body_with_local_reference_moved_to_components(self):
        schema = self.op("/notes/{id}", "put")["requestBody"]["content"][
            "application/json"]["schema"]
        target = resolve(self.doc, schema["$ref"])
        self.assertEqual(resolve(self.doc,
                                 target["properties"]["n"]["$ref"]),
                         {"type": "integer"})

    def test_parameters(self):
        p = self.op("/notes/{id}", "get")["parameters"]
        self.assertEqual(p, [{"name": "id", "in": "path", "required": True,
                              "schema": {"type": "integer",
                                         "minimum": 1}}])
        q = {x["name"]: x for x in self.op("/notes", "get")["parameters"]}
        self.assertEqual(q["limit"]["in"], "query")
        self.assertTrue(q["limit"]["required"])
        self.assertFalse(q["q"]["required"])
        self.assertEqual(q["limit"]["schema"],
                         {"type": "integer", "maximum": 100})

    def test_responses_as_applicable(self):
        get = self.op("/notes/{id}", "get")["responses"]
        self.assertEqual(set(get), {"200", "400", "401", "403", "404",
                                    "422", "500", "503", "504"})
        post = self.op("/notes", "post")["responses"]
        self.assertEqual(set(post), {"201", "400", "401", "403", "404",
                                     "409", "413", "415", "422", "500",
                                     "503", "504"})
        lst = self.op("/notes", "get")["responses"]
        self.assertIn("429", lst)
        self.assertNotIn("404", lst)
        self.assertEqual(lst["200"]["content"]["application/json"][
            "schema"]["type"], "array")
        put = self.op("/notes/{id}", "put")["responses"]
        self.assertIn("204", put)
        self.assertNotIn("content", put["204"])
        problem = resolve(self.doc, post["422"]["$ref"])
        self.assertIn("application/problem+json", problem["content"])
        errors = resolve(self.doc, problem["content"][
            "application/problem+json"]["schema"]["$ref"])
        self.assertEqual(errors["allOf"][0]["$ref"],
                         "#/components/schemas/bulwark.Problem")
        self.assertEqual(errors["allOf"][1]["properties"]["errors"][
            "maxItems"], 16)
        self.assertIn("Retry-After",
                      resolve(self.doc, lst["429"]["$ref"])["headers"])

    def test_security_and_roles(self):
        self.assertEqual(self.op("/notes/{id}", "get")["security"],
                         [{"bearer": ["reader"]}, {"apiKey": ["reader"]}])
        self.assertEqual(self.op("/notes", "get")["security"],
                         [{}, {"bearer": []}, {"apiKey": []}])
        self.assertEqual(self.op("/notes/{id}", "delete")[
            "x-bulwark-roles"], ["admin"])
        schemes = self.doc["components"]["securitySchemes"]
        self.assertEqual(schemes["bearer"]["scheme"], "bearer")
        self.assertEqual(schemes["apiKey"],
                         {"type": "apiKey", "in": "header",
                          "name": "X-API-Key"})

    def test_builtin_endpoints(self):
        login = self.op("/auth/login", "post")
        self.assertEqual(login["security"], [{}])
        body = login["requestBody"]["content"]["application/json"]["schema"]
        self.assertEqual(body["required"], ["username", "password"])
        self.assertFalse(body["additionalProperties"])
        ok = login["responses"]["200"]["content"]["application/json"][
            "schema"]
        self.assertEqual(ok["properties"]["token_type"]["const"], "Bearer")
        self.assertIn("429", login["responses"])
        self.assertNotIn("403", login["responses"])
        self.assertEqual(self.op("/auth/me", "get")["security"],
                         [{"bearer": []}])
        self.assertIn("204", self.op("/auth/password", "post")["responses"])

    def test_no_secret_or_sql_in_document(self):
        text = self.out.decode()
        self.assertNotIn("SELECT", text)
        self.assertNotIn("jwt.pem", text)
        self.assertNotIn(self.d.dir, text)


class TestOpenApiErrors(unittest.TestCase):
    def test_invalid_configuration_exit_1(self):
        d = harness.Daemon(name="openapi-bad", config={"bogus": 1})
        try:
            p = subprocess.run([harness.BULWARKD, "-c", d.conf_path,
                                "--openapi"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env=harness.child_env(), timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stdout, b"")
            self.assertIn(b"bogus", p.stderr)
        finally:
            d.cleanup()

    def test_without_routes_or_auth(self):
        d = harness.Daemon(name="openapi-empty")
        try:
            p = subprocess.run([harness.BULWARKD, "-c", d.conf_path,
                                "--openapi"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env=harness.child_env(), timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            doc = json.loads(p.stdout)
            self.assertEqual(doc["paths"], {})
            self.assertNotIn("securitySchemes", doc["components"])
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
