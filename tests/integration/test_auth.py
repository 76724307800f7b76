"""
test_auth.py - credentials on routed requests and authorization (SPEC 8),
over TLS against a real bulwarkd and PostgreSQL.

Tokens are made by the test itself: header and claims as JSON text,
base64url by hand, and Ed25519 signatures from the server's own signing
key through `openssl pkeyutl -sign -rawin` (Python's standard library has
no Ed25519).  HS256 forgeries use hmac.  Users and API keys are created
with bulwarkd's administration modes; revocations are made with those
modes or, for a deny-listed jti, by a row inserted with psql.

Covered: the positive control (a token signed with the server's key and
valid claims is accepted and its caller reaches SQL as :user.*,
:claims.* and the context statement's settings); every refusal of SPEC 8
listed in issue 5 (alg none in any case, HS256 signed with the public key
as PEM text and as raw bytes, unknown kid, kid with path or SQL
characters, jku/jwk/x5u/x5c/crit, wrong or missing typ, expired, not yet
valid, iat in the future, exp - iat too long, wrong iss and aud, tampered
payload, duplicate claim keys, padded and non-canonical base64url, a
validly signed token over max_token_size with max_header_size raised, an
opaque refresh-style token used as an access token, a deny-listed jti, a
token issued before --revoke-sessions, a disabled user's token, a token
whose sub is no user) with 401 and WWW-Authenticate: Bearer
error="invalid_token"; invalid credentials on a public route; 401 with a
bare Bearer challenge without credentials; 403 for a caller without the
role; both headers, a repeated header and another scheme; API keys
(accepted with their roles, NULL :user.id, wrong secret, malformed, a
revoked key refused within the reload period).

Not covered here (not implemented in this slice): the /auth endpoints
(login, refresh, logout, me, password), so access-vs-refresh confusion is
tested only in the access direction.

Environment: BULWARKD; PostgreSQL server binaries, psql and the openssl
CLI (skipped with the reason when missing).  Python 3 standard library
only.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import pg
from harness import bearer

CLUSTER = None
DAEMON = None
KEYFILE = None
KID = None
RAW_PUB = None
PEM_PUB = None
USERS = {}

ISS = "https://bulwark.test"
AUD = "bulwark.test"
PASSWORD = "correct horse battery " + secrets.token_hex(8)
KEY_RE = re.compile(r"bwk_[a-z2-7]{8}_[A-Za-z0-9_-]{43}")
RELOAD_WAIT = 2.5   # seconds: AUTH_RELOAD_MS plus a reload's round trips

WHO_SQL = ("SELECT :user.id AS id, :user.name AS name, "
           ":user.roles::text[] AS roles, :claims.sid AS sid, "
           ":claims.exp AS exp, "
           "current_setting('bulwark.user_id') AS ctx_id, "
           "current_setting('bulwark.user_name') AS ctx_name, "
           "current_setting('bulwark.roles') AS ctx_roles")


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ed25519_sign(data):
    """Signs bytes with the server's signing key (raw 64-byte result)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        p = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin",
                            "-inkey", KEYFILE, "-in", f.name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=harness.child_env(), check=True, timeout=30)
    if len(p.stdout) != 64:
        raise AssertionError("openssl signature of %d bytes" % len(p.stdout))
    return p.stdout


def claims(sub=None, **over):
    now = int(time.time())
    c = {"iss": ISS, "sub": sub or USERS["alice"], "aud": AUD,
         "iat": now, "nbf": now - 5, "exp": now + 600,
         "jti": b64u(secrets.token_bytes(16)),
         "sid": "00000000-0000-4000-8000-000000000001",
         "name": "alice", "roles": ["editor"]}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def header(**over):
    h = {"alg": "EdDSA", "typ": "at+jwt", "kid": KID}
    for k, v in over.items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    return h


def token(hdr=None, cl=None, raw_header=None, raw_claims=None, sign=None):
    """A compact JWS: header and claims as dicts or raw JSON text."""
    h = raw_header if raw_header is not None else json.dumps(
        hdr if hdr is not None else header(), separators=(",", ":"))
    c = raw_claims if raw_claims is not None else json.dumps(
        cl if cl is not None else claims(), separators=(",", ":"))
    tbs = (b64u(h.encode()) + "." + b64u(c.encode())).encode("ascii")
    sig = (sign or ed25519_sign)(tbs)
    return tbs.decode("ascii") + "." + b64u(sig)


def hs256_with(secret):
    return lambda tbs: hmac.new(secret, tbs, hashlib.sha256).digest()


def add_user(name, roles):
    pg.add_user(DAEMON, name, roles, PASSWORD)
    USERS[name] = CLUSTER.user_id(name)


def routes():
    return [
        {"name": "who_public", "method": "GET", "path": "/public",
         "roles": ["public"], "sql": WHO_SQL},
        {"name": "who_reader", "method": "GET", "path": "/reader",
         "roles": ["reader"], "sql": WHO_SQL},
        {"name": "admin_only", "method": "GET", "path": "/admin",
         "roles": ["admin"], "sql": "SELECT 1 AS one"},
        {"name": "typed", "method": "GET", "path": "/typed/{n}",
         "roles": ["reader"], "params": {"n": {"type": "integer"}},
         "sql": "SELECT :path.n AS n"},
        {"name": "limited", "method": "GET", "path": "/limited",
         "roles": ["reader"], "sql": "SELECT 1 AS one",
         "rate_limit": {"by": "user", "rate": "1/h", "burst": 2}},
    ]


def setUpModule():
    global CLUSTER, DAEMON, KEYFILE, KID, RAW_PUB, PEM_PUB
    harness.require_binary()
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("the openssl CLI is not installed")
    CLUSTER = pg.Cluster.start()
    try:
        d = pg.PgDaemon(CLUSTER, routes=routes(), name="auth")
        KEYFILE = os.path.join(d.dir, "jwt.pem")
        harness.gen_key("ed25519", KEYFILE)
        d.write_config({
            "server": {"limits": {"max_header_size": "32KiB"}},
            "auth": {
                "issuer": ISS, "audience": AUD,
                "signing_key_file": KEYFILE,
                "access_ttl": "15m", "leeway": "30s",
                "max_token_size": "4KiB",
                "password": {"min_length": 12, "max_length": 128,
                             "argon2": {"memory": "19MiB",
                                        "iterations": 2,
                                        "parallelism": 1}},
            },
            "roles": {"admin": {"inherits": ["editor"]},
                      "editor": {"inherits": ["reader"]},
                      "reader": {}},
        }, routes())
        DAEMON = d
        rc, out, err = DAEMON.admin("--init-db")
        if rc != 0:
            raise AssertionError("--init-db: %d %s" % (rc, err))
        for name, roles in (("alice", "editor"), ("bob", "reader"),
                            ("carol", "reader")):
            add_user(name, roles)
        # A user's cut-off starts at its creation (microseconds) and a
        # token's iat is whole seconds: one with iat in the second of the
        # creation is refused (authdb.h).  Tokens made from now on are not.
        time.sleep(1.05 - time.time() % 1)
        der = subprocess.run(["openssl", "pkey", "-in", KEYFILE, "-pubout",
                              "-outform", "DER"], stdout=subprocess.PIPE,
                             check=True, env=harness.child_env()).stdout
        RAW_PUB = der[-32:]
        PEM_PUB = subprocess.run(["openssl", "pkey", "-in", KEYFILE,
                                  "-pubout"], stdout=subprocess.PIPE,
                                 check=True, env=harness.child_env()).stdout
        jwk = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % b64u(RAW_PUB)
        KID = b64u(hashlib.sha256(jwk.encode()).digest())
        DAEMON.start()
        wait_accepted(token())
    except BaseException:
        tearDownModule()
        raise


def wait_accepted(tok, path="/public"):
    """Until several new connections in a row (every worker) accept tok:
    the workers load the revocation state once the database is up."""
    DAEMON.wait_served(
        lambda: DAEMON.request("GET", path, headers=bearer(tok)),
        rounds=3 * DAEMON.workers, what="token")


def tearDownModule():
    global CLUSTER, DAEMON
    try:
        if DAEMON is not None and DAEMON.proc is not None:
            DAEMON.stop_and_check()
    finally:
        if DAEMON is not None:
            DAEMON.cleanup()
        DAEMON = None
        if CLUSTER is not None:
            CLUSTER.destroy()
            CLUSTER = None


class Base(unittest.TestCase):
    def get(self, path, headers=()):
        return DAEMON.request("GET", path, headers=headers)

    def assertInvalid(self, resp, msg=None):
        self.assertEqual(resp.status, 401, msg)
        self.assertEqual(resp.header("WWW-Authenticate"),
                         'Bearer error="invalid_token"', msg)
        self.assertEqual(resp.header("Content-Type"),
                         "application/problem+json")

    def refused_everywhere(self, headers, msg=None):
        """Refused on the public route and on a route the roles allow."""
        for path in ("/public", "/reader"):
            self.assertInvalid(self.get(path, headers), "%s %s" % (msg, path))


class TestAccepted(Base):
    def test_positive_control(self):
        tok = token()
        r = self.get("/reader", bearer(tok))
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["id"], USERS["alice"])
        self.assertEqual(doc["name"], "alice")
        self.assertEqual(doc["roles"], ["editor", "reader"])
        self.assertEqual(doc["sid"], "00000000-0000-4000-8000-000000000001")
        self.assertEqual(doc["ctx_id"], USERS["alice"])
        self.assertEqual(doc["ctx_name"], "alice")
        self.assertEqual(doc["ctx_roles"], "editor,reader")
        c = json.loads(base64.urlsafe_b64decode(
            tok.split(".")[1] + "==").decode())
        self.assertEqual(str(doc["exp"]), str(c["exp"]))

    def test_refused_after_admission(self):
        # Admitted (valid token, role), then refused at the parameters
        # step: the principal is released with the request (ASan checks).
        r = self.get("/typed/x", bearer(token()))
        self.assertEqual(r.status, 400)
        self.assertEqual(self.get("/typed/7", bearer(token())).status, 200)

    def test_access_log_names_the_caller(self):
        r = self.get("/reader", bearer(token()))
        self.assertEqual(r.status, 200)
        rid = r.header("X-Request-Id")
        e = DAEMON.wait_access(lambda e: e.get("request_id") == rid)
        self.assertIsNotNone(e, "no access log line")
        self.assertEqual(e["user"], "alice")

    def test_anonymous_public(self):
        r = self.get("/public")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertIsNone(doc["id"])
        self.assertIsNone(doc["name"])
        self.assertEqual(doc["roles"], [])
        self.assertEqual(doc["ctx_id"], "")
        self.assertEqual(doc["ctx_roles"], "")
        self.assertIsNone(r.header("WWW-Authenticate"))

    def test_anonymous_protected(self):
        r = self.get("/reader")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")

    def test_forbidden_without_role(self):
        r = self.get("/admin", bearer(token()))
        self.assertEqual(r.status, 403)
        self.assertIsNone(r.header("WWW-Authenticate"))

    def test_scheme_case_insensitive(self):
        r = self.get("/reader", [("Authorization", "bearer " + token())])
        self.assertEqual(r.status, 200)

    def test_typ_application_at_jwt(self):
        tok = token(header(typ="application/at+jwt"))
        self.assertEqual(self.get("/reader", bearer(tok)).status, 200)


class TestRateLimitByUser(Base):
    def test_per_user_bucket(self):
        tok = token()
        statuses = [self.get("/limited", bearer(tok)).status
                    for _ in range(2 * DAEMON.workers + 1)]
        self.assertIn(429, statuses)
        self.assertEqual(set(statuses), {200, 429})
        r = [x for x in (self.get("/limited", bearer(tok))
                         for _ in range(2)) if x.status == 429][0]
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        other = token(cl=claims(sub=USERS["bob"], name="bob",
                                roles=["reader"]))
        self.assertEqual(self.get("/limited", bearer(other)).status, 200)

    def test_refused_credentials_take_no_token(self):
        bad = token(header(alg="none"))
        for _ in range(3 * DAEMON.workers):
            self.assertInvalid(self.get("/limited", bearer(bad)))


class TestRefused(Base):
    def test_alg_none_any_case(self):
        for alg in ("none", "None", "NONE", "nOnE"):
            h = json.dumps(header(alg=alg))
            c = json.dumps(claims())
            tok = b64u(h.encode()) + "." + b64u(c.encode()) + "."
            self.refused_everywhere(bearer(tok), alg)
            tok = token(header(alg=alg))
            self.refused_everywhere(bearer(tok), alg + " signed")

    def test_hs256_with_public_key(self):
        for secret in (PEM_PUB, PEM_PUB.rstrip(b"\n"), RAW_PUB):
            tok = token(header(alg="HS256"), sign=hs256_with(secret))
            self.refused_everywhere(bearer(tok), "HS256")

    def test_other_algorithms(self):
        for alg in ("ES256", "RS256", "Ed25519", "eddsa"):
            self.refused_everywhere(bearer(token(header(alg=alg))), alg)

    def test_unknown_kid(self):
        for kid in (b64u(secrets.token_bytes(32)), None, "",
                    KID[:-1], KID + "A"):
            self.refused_everywhere(bearer(token(header(kid=kid))), kid)

    def test_kid_path_and_sql(self):
        for kid in ("../../../../etc/passwd", "/dev/null",
                    "' OR '1'='1", "x'; DROP TABLE bulwark.users; --",
                    KID + "/../" + KID, KID + "\u0000"):
            self.refused_everywhere(bearer(token(header(kid=kid))), kid)
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.users"), str(len(USERS)))

    def test_forbidden_header_members(self):
        for name, value in (("jku", "https://evil.test/jwks"),
                            ("jwk", {"kty": "OKP", "crv": "Ed25519",
                                     "x": b64u(RAW_PUB)}),
                            ("x5u", "https://evil.test/cert"),
                            ("x5c", ["MIIB"]), ("crit", ["exp"])):
            tok = token(header(**{name: value}))
            self.refused_everywhere(bearer(tok), name)

    def test_typ(self):
        for typ in ("JWT", "at+JWT", "jwt", "", None, "application/jwt"):
            self.refused_everywhere(bearer(token(header(typ=typ))), typ)

    def test_times(self):
        now = int(time.time())
        cases = {
            "expired": claims(iat=now - 1000, nbf=now - 1000,
                              exp=now - 100),
            "not yet valid": claims(nbf=now + 300),
            "iat in the future": claims(iat=now + 300, nbf=now + 300,
                                        exp=now + 900),
            "exp - iat too long": claims(exp=now + 15 * 60 + 3600),
            "no exp": claims(exp=None),
            "no nbf": claims(nbf=None),
            "no iat": claims(iat=None),
            "string exp": claims(exp=str(now + 600)),
            "fractional exp": None,
        }
        for what, cl in cases.items():
            if cl is None:
                base = claims()
                raw = json.dumps(base).replace(
                    '"exp": %d' % base["exp"], '"exp": %d.5' % base["exp"])
                self.assertIn(".5", raw)
                tok = token(raw_claims=raw)
            else:
                tok = token(cl=cl)
            self.refused_everywhere(bearer(tok), what)

    def test_iss_aud(self):
        for cl in (claims(iss="https://evil.test"), claims(iss=None),
                   claims(aud="evil.test"), claims(aud=None),
                   claims(aud=["evil.test"]), claims(iss=ISS + "/")):
            self.refused_everywhere(bearer(token(cl=cl)), cl)

    def test_tampered_payload(self):
        tok = token()
        h, c, s = tok.split(".")
        body = json.loads(base64.urlsafe_b64decode(c + "==").decode())
        body["roles"] = ["admin"]
        forged = h + "." + b64u(json.dumps(body).encode()) + "." + s
        self.refused_everywhere(bearer(forged), "roles")
        sig = bytearray(base64.urlsafe_b64decode(s + "=="))
        sig[5] ^= 1
        self.refused_everywhere(bearer(h + "." + c + "." + b64u(bytes(sig))),
                                "signature bit")
        self.refused_everywhere(bearer(h + "." + c + "." + s[:-4]),
                                "truncated")
        self.refused_everywhere(bearer(h + "." + c), "two segments")

    def test_duplicate_keys(self):
        raw = json.dumps(claims())[:-1] + ', "sub": "%s"}' % USERS["bob"]
        self.refused_everywhere(bearer(token(raw_claims=raw)), "claims")
        rawh = json.dumps(header())[:-1] + ', "alg": "EdDSA"}'
        self.refused_everywhere(bearer(token(raw_header=rawh)), "header")

    def test_non_canonical_base64url(self):
        tok = token()
        h, c, s = tok.split(".")
        self.assertEqual(self.get("/public", bearer(tok)).status, 200)
        padded = [h + "=" * (-len(h) % 4 or 4), c, s]
        for parts in (padded, [h, c + "=", s], [h, c, s + "=="]):
            self.refused_everywhere(bearer(".".join(parts)), parts)
        # Stray bits: the signature's last character changed in its low
        # bits only (86 characters hold 64 bytes with 4 spare bits).
        last = s[-1]
        alpha = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 "0123456789-_")
        i = alpha.index(last)
        stray = alpha[(i & ~15) | ((i + 1) & 15)]
        self.refused_everywhere(bearer(h + "." + c + "." + s[:-1] + stray),
                                "stray bits")
        std = tok.replace("-", "+").replace("_", "/")
        if std != tok:
            self.refused_everywhere(bearer(std), "standard alphabet")

    def test_oversize_token(self):
        small = token(cl=claims(pad="x" * 100))
        self.assertEqual(self.get("/public", bearer(small)).status, 200)
        big = token(cl=claims(pad="x" * 4200))
        self.assertGreater(len(big), 4096)
        self.refused_everywhere(bearer(big), "oversize")

    def test_refresh_token_as_access_token(self):
        opaque = b64u(secrets.token_bytes(32))
        self.refused_everywhere(bearer(opaque), "opaque")

    def test_sub_not_a_user(self):
        tok = token(cl=claims(sub="00000000-0000-4000-8000-00000000dead"))
        self.refused_everywhere(bearer(tok), "unknown sub")

    def test_credential_syntax(self):
        tok = token()
        cases = [
            [("Authorization", "Bearer " + tok),
             ("Authorization", "Bearer " + tok)],
            [("Authorization", "Bearer " + tok),
             ("X-API-Key", "bwk_aaaaaaaa_" + "A" * 43)],
            [("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")],
            [("Authorization", "Bearer")],
            [("Authorization", "Bearer ")],
            [("Authorization", "Token " + tok)],
            [("Authorization", "Bearer" + tok)],
            [("X-API-Key", "x"), ("X-API-Key", "y")],
        ]
        for h in cases:
            self.refused_everywhere(h, h)


class TestRevocation(Base):
    def test_denied_jti(self):
        jti = b64u(secrets.token_bytes(16))
        tok = token(cl=claims(jti=jti))
        wait_accepted(tok)
        CLUSTER.psql("INSERT INTO bulwark.denied_jtis VALUES "
                     "(:'j', now() + interval '1 hour')", {"j": jti})
        time.sleep(RELOAD_WAIT)
        for _ in range(2 * DAEMON.workers):
            self.assertInvalid(self.get("/public", bearer(tok)))
        self.assertEqual(self.get("/public", bearer(token())).status, 200)

    def test_revoke_sessions(self):
        now = int(time.time())
        old = token(cl=claims(sub=USERS["bob"], name="bob",
                              roles=["reader"], iat=now - 1,
                              nbf=now - 1))
        wait_accepted(old, "/reader")
        time.sleep(1.1)
        rc, out, err = DAEMON.admin("--revoke-sessions", "bob")
        self.assertEqual(rc, 0, err)
        time.sleep(RELOAD_WAIT)
        for _ in range(2 * DAEMON.workers):
            self.assertInvalid(self.get("/reader", bearer(old)))
        fresh = token(cl=claims(sub=USERS["bob"], name="bob",
                                roles=["reader"], iat=int(time.time()) + 1,
                                nbf=int(time.time())))
        self.assertEqual(self.get("/reader", bearer(fresh)).status, 200)

    def test_disabled_user(self):
        tok = token(cl=claims(sub=USERS["carol"], name="carol",
                              roles=["reader"]))
        wait_accepted(tok, "/reader")
        rc, out, err = DAEMON.admin("--disable-user", "carol")
        self.assertEqual(rc, 0, err)
        time.sleep(RELOAD_WAIT)
        for _ in range(2 * DAEMON.workers):
            self.assertInvalid(self.get("/reader", bearer(tok)))


class TestApiKeys(Base):
    def test_api_key(self):
        rc, out, err = DAEMON.admin("--add-api-key", "ci-bot", "--roles",
                                    "reader")
        self.assertEqual(rc, 0, err)
        m = KEY_RE.search(out)
        self.assertIsNotNone(m, out)
        key = m.group(0)
        h = [("X-API-Key", key)]
        # Every worker learns the key over LISTEN/NOTIFY: wait until ten
        # requests in a row (new connections, spread over the workers)
        # are admitted.
        deadline = time.monotonic() + 10 * harness.SLOW
        ok = 0
        while ok < 10:
            self.assertLess(time.monotonic(), deadline)
            r = self.get("/reader", h)
            if r.status == 200:
                ok += 1
            else:
                ok = 0
                time.sleep(0.2)
        doc = r.json()
        self.assertIsNone(doc["id"])
        self.assertIsNone(doc["name"])
        self.assertIsNone(doc["sid"])
        self.assertEqual(doc["roles"], ["reader"])
        self.assertEqual(doc["ctx_roles"], "reader")
        self.assertEqual(self.get("/admin", h).status, 403)
        wrong = key[:-2] + ("AA" if key[-2:] != "AA" else "BA")
        self.refused_everywhere([("X-API-Key", wrong)], "wrong secret")
        self.refused_everywhere([("X-API-Key", key + "A")], "long")
        self.refused_everywhere([("X-API-Key", key.upper())], "case")
        self.refused_everywhere([("Authorization", "Bearer " + key)],
                                "key as bearer")
        rc, out, err = DAEMON.admin("--revoke-api-key", "ci-bot")
        self.assertEqual(rc, 0, err)
        time.sleep(RELOAD_WAIT)
        for _ in range(2 * DAEMON.workers):
            self.assertInvalid(self.get("/reader", h))


if __name__ == "__main__":
    unittest.main()
