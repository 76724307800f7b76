"""
test_cors.py - SPEC 4 server.cors: real preflight / actual request pairs
against a running bulwarkd.

The routes have no database behind them (an empty Unix socket directory),
so an actual request that passes every check is answered 503 while its
preflight is answered 204: the preflight never touches the database.
"""

import unittest

from harness import route
from test_http import HttpCase

APP = "https://app.example"
OTHER = "https://evil.example"

ROUTES = [
    route("items_get", "GET", "/items"),
    route("items_post", "POST", "/items"),
    route("limited", "GET", "/limited",
          rate_limit={"by": "ip", "rate": "1/m", "burst": 1}),
]

ALLOW_HEADERS = "Authorization, Content-Type, X-API-Key, X-Request-Id"
EXPOSE = "X-Request-Id, Retry-After"


def preflight_hdrs(origin, method="POST"):
    return [("Origin", origin), ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "content-type")]


def cors_names(r):
    return sorted(k for k in r.names() if k.startswith("access-control-"))


class CorsCase(HttpCase):
    routes = ROUTES
    workers = 1
    credentials = False

    @classmethod
    def setUpClass(cls):
        cls.config = {"server": {"cors": {
            "allow_origins": [APP, "http://localhost:3000"],
            "allow_credentials": cls.credentials, "max_age": "90s"}}}
        super().setUpClass()

    def preflight(self, origin, path="/items", method="POST"):
        return self.req("OPTIONS", path, preflight_hdrs(origin, method))


class TestCors(CorsCase):

    def test_preflight_allowed_origin(self):
        r = self.preflight(APP)
        self.assertEqual(r.status, 204)
        self.assert_common(r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("access-control-allow-origin"), APP)
        self.assertEqual(r.header("access-control-allow-methods"),
                         "GET, HEAD, POST, OPTIONS")
        self.assertEqual(r.header("access-control-allow-headers"),
                         ALLOW_HEADERS)
        self.assertEqual(r.header("access-control-max-age"), "90")
        self.assertIsNone(r.header("access-control-allow-credentials"))
        self.assertIsNone(r.header("access-control-expose-headers"))
        self.assertEqual(r.header("vary"), "Origin")

    def test_preflight_without_database(self):
        # The actual request needs the (absent) database; its preflight
        # does not.
        self.assertEqual(self.preflight(APP).status, 204)
        r = self.req("POST", "/items", [("Origin", APP),
                                        ("Content-Type",
                                         "application/json")], b"{}")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.header("access-control-allow-origin"), APP)

    def test_actual_allowed_origin(self):
        r = self.req("GET", "/items", [("Origin", APP)])
        self.assertEqual(r.status, 503)
        self.assertEqual(r.header("access-control-allow-origin"), APP)
        self.assertEqual(r.header("access-control-expose-headers"), EXPOSE)
        self.assertEqual(r.header("vary"), "Origin")
        self.assertEqual(cors_names(r), ["access-control-allow-origin",
                                         "access-control-expose-headers"])
        r = self.req("GET", "/items", [("Origin", "http://localhost:3000")])
        self.assertEqual(r.header("access-control-allow-origin"),
                         "http://localhost:3000")

    def test_refused_origin(self):
        # Exact matching: case, trailing slash, port and prefixes differ.
        for origin in (OTHER, APP.upper(), APP + "/", APP + ":443",
                       APP + ".evil.example", "null",
                       "http://app.example"):
            r = self.preflight(origin)
            self.assertEqual(r.status, 204, origin)
            self.assertEqual(cors_names(r), [], origin)
            self.assertEqual(r.header("vary"), "Origin")
            r = self.req("GET", "/items", [("Origin", origin)])
            self.assertEqual(r.status, 503)
            self.assertEqual(cors_names(r), [], origin)
            self.assertEqual(r.header("vary"), "Origin")

    def test_two_origins_refused(self):
        r = self.req("GET", "/items", [("Origin", APP), ("Origin", APP)])
        self.assertEqual(cors_names(r), [])

    def test_vary_everywhere(self):
        for method, path, hdrs, status in (
                ("GET", "/items", [], 503),
                ("GET", "/nope", [("Origin", APP)], 404),
                ("DELETE", "/items", [("Origin", APP)], 405),
                ("OPTIONS", "/items", [], 204),
                ("OPTIONS", "/nope", preflight_hdrs(APP), 404)):
            r = self.req(method, path, hdrs)
            self.assertEqual(r.status, status, (method, path))
            self.assertEqual(r.header("vary"), "Origin", (method, path))

    def test_preflight_unknown_path_is_404(self):
        r = self.preflight(APP, path="/nope")
        self.assert_common(r, problem=404)
        # An allowed origin still reads the refusal.
        self.assertEqual(r.header("access-control-allow-origin"), APP)
        self.assertIsNone(r.header("access-control-allow-methods"))

    def test_plain_options_is_not_preflight(self):
        r = self.req("OPTIONS", "/items", [("Origin", APP)])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("allow"), "GET, HEAD, POST, OPTIONS")
        self.assertIsNone(r.header("access-control-allow-methods"))
        self.assertEqual(r.header("access-control-allow-origin"), APP)

    def test_preflight_before_rate_limit(self):
        self.assertEqual(self.req("GET", "/limited").status, 503)
        r = self.req("GET", "/limited", [("Origin", APP)])
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header("access-control-allow-origin"), APP)
        self.assertEqual(r.header("access-control-expose-headers"), EXPOSE)
        self.assertIsNotNone(r.header("retry-after"))
        r = self.preflight(APP, path="/limited", method="GET")
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("access-control-allow-methods"),
                         "GET, HEAD, OPTIONS")


class TestCorsCredentials(CorsCase):
    credentials = True

    def test_credentials(self):
        r = self.preflight(APP)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("access-control-allow-origin"), APP)
        self.assertEqual(r.header("access-control-allow-credentials"),
                         "true")
        r = self.req("GET", "/items", [("Origin", APP)])
        self.assertEqual(r.header("access-control-allow-credentials"),
                         "true")
        r = self.req("GET", "/items", [("Origin", OTHER)])
        self.assertEqual(cors_names(r), [])
        r = self.preflight(OTHER)
        self.assertEqual(cors_names(r), [])


class TestCorsWildcard(CorsCase):

    @classmethod
    def setUpClass(cls):
        cls.config = {"server": {"cors": {"allow_origins": ["*"]}}}
        HttpCase.setUpClass.__func__(cls)

    def test_star(self):
        r = self.preflight(OTHER)
        self.assertEqual(r.header("access-control-allow-origin"), "*")
        self.assertEqual(r.header("access-control-max-age"), "600")
        self.assertIsNone(r.header("access-control-allow-credentials"))
        r = self.req("GET", "/items")
        self.assertEqual(cors_names(r), [])
        self.assertEqual(r.header("vary"), "Origin")


class TestNoCors(HttpCase):
    routes = ROUTES
    workers = 1

    def test_no_cors_fields(self):
        for method, path, hdrs in (("OPTIONS", "/items", preflight_hdrs(APP)),
                                   ("GET", "/items", [("Origin", APP)])):
            r = self.req(method, path, hdrs)
            self.assertEqual(cors_names(r), [])
            self.assertIsNone(r.header("vary"))


if __name__ == "__main__":
    unittest.main()
