"""
test_auth_endpoints.py - the built-in endpoints of SPEC 8 (login,
refresh, logout, me, password) over TLS against two real bulwarkd
instances sharing one real PostgreSQL.

Users are made with `bulwarkd --add-user` (password on stdin) before the
daemons start.  Instance A is the main one; instance B shares the
database and the signing key and has argon2 iterations 3 (a login there
re-hashes a password made with 2).  Both keep argon2 at the SPEC minimum
memory, 19MiB.

Covered: login (200 and its token works on a reader route; claims and
header of the access token; username case), one generic 401 for a wrong
password and for an unknown user, byte-identical apart from X-Request-Id,
Date and the problem's instance; malformed bodies (400, 413, 415, 422);
lockout after max_failures with 429 and Retry-After for existing and
unknown usernames, the correct password included; refresh rotation (the
old token refused afterwards); reuse of a rotated token revokes the
family (its newest token refused too); a family past its absolute expiry
(refresh_ttl is at least 1m, so the test moves expires_at into the past
after checking it is login + refresh_ttl and unchanged by rotation); logout
(204, the access token refused within one second, by the other instance
too, the refresh token refused); logout with another user's Bearer;
access and refresh tokens swapped; a token issued before
--revoke-sessions; /auth/me; /auth/password (wrong current password, policy,
the caller's session survives, other sessions are cut off, the new
password logs in, the old one not); re-hash on changed parameters; the
log lines of a login (the access log names the user who logged in, an
invalid username is never echoed); no
password or refresh token in clear in a dump of the schema.

Environment: BULWARKD; PostgreSQL server binaries, psql and pg_dump
(skipped with the reason when missing).  Python 3 standard library only.
"""

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import unittest

import harness
import pg
from harness import bearer

CLUSTER = None
A = None
B = None
KEYFILE = None
USERS = {}
ISSUED = []         # every password and refresh token handed out

ISS = "https://bulwark.test"
AUD = "bulwark.test"
MAX_FAILURES = 3
PASSWORD = "correct horse battery " + secrets.token_hex(8)
LOGIN = "/auth/login"
REFRESH = "/auth/refresh"
LOGOUT = "/auth/logout"
ME = "/auth/me"
CHANGE = "/auth/password"
PROPAGATION = 1.0   # seconds: SPEC 8, revocations reach every worker

WHO_SQL = "SELECT :user.id AS id, :user.name AS name"


def b64u_json(seg):
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def auth_config(refresh_ttl="1h", iterations=2):
    return {
        "issuer": ISS, "audience": AUD,
        "signing_key_file": KEYFILE,
        "access_ttl": "15m", "refresh_ttl": refresh_ttl, "leeway": "30s",
        "endpoint_rate_limit": {"by": "ip", "rate": "1000/s",
                                "burst": 1000},
        "password": {"min_length": 12, "max_length": 128,
                     "argon2": {"memory": "19MiB",
                                "iterations": iterations,
                                "parallelism": 1},
                     "pool_threads": 2},
        "lockout": {"max_failures": MAX_FAILURES, "window": "10m",
                    "duration": "1m"},
    }


def routes():
    return [
        {"name": "who_reader", "method": "GET", "path": "/reader",
         "roles": ["reader"], "sql": WHO_SQL},
    ]


ROLES = {"editor": {"inherits": ["reader"]}, "reader": {}}


def add_user(name, roles, password=PASSWORD):
    pg.add_user(A, name, roles, password)
    USERS[name] = CLUSTER.user_id(name)


def setUpModule():
    global CLUSTER, A, B, KEYFILE
    harness.require_binary()
    if shutil.which("pg_dump") is None:
        raise unittest.SkipTest("pg_dump is not installed")
    CLUSTER = pg.Cluster.start()
    try:
        A = pg.PgDaemon(CLUSTER, routes=routes(), name="authep-a")
        KEYFILE = os.path.join(A.dir, "jwt.pem")
        harness.gen_key("ed25519", KEYFILE)
        A.write_config({"auth": auth_config(), "roles": ROLES,
                        "server": {"trusted_proxies": ["127.0.0.1"]}},
                       routes())
        B = pg.PgDaemon(CLUSTER, routes=routes(), name="authep-b")
        B.write_config({"auth": auth_config(iterations=3), "roles": ROLES},
                       routes())
        rc, out, err = A.admin("--init-db")
        if rc != 0:
            raise AssertionError("--init-db: %d %s" % (rc, err))
        for name, roles in (("alice", "editor"), ("bob", "reader"),
                            ("carol", "reader"), ("dave", "reader"),
                            ("erin", "reader"), ("frank", "reader"),
                            ("gina", "reader"), ("hank", "reader"),
                            ("ivan", "reader"), ("judy", "reader")):
            add_user(name, roles)
        A.start()
        B.start()
        for d in (A, B):
            d.wait_db_ready(ME, want=401)
            # Every worker has its pool and revocation state.
            d.wait_served(lambda: login(d, "bob"), what="logins")
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global CLUSTER, A, B
    try:
        for d in (A, B):
            if d is not None and d.proc is not None:
                d.stop_and_check()
    finally:
        for d in (A, B):
            if d is not None:
                d.cleanup()
        A = B = None
        if CLUSTER is not None:
            CLUSTER.destroy()
            CLUSTER = None


def post(d, path, doc, headers=(), raw=None):
    body = raw if raw is not None else json.dumps(doc).encode()
    return d.request("POST", path, headers=pg.json_headers(headers),
                     body=body)


def login(d, name, password=PASSWORD):
    ISSUED.append(password)
    r = pg.login(d, name, password, LOGIN)
    if r.status == 200:
        ISSUED.append(r.json()["refresh_token"])
    return r


def tokens(d, name, password=PASSWORD):
    r = login(d, name, password)
    if r.status != 200:
        raise AssertionError("login %s: %r %s\n%s" %
                             (name, r, r.body, d.stderr_tail()))
    doc = r.json()
    return doc["access_token"], doc["refresh_token"]


def refresh(d, rt, headers=()):
    r = post(d, REFRESH, {"refresh_token": rt}, headers)
    if r.status == 200:
        ISSUED.append(r.json()["refresh_token"])
    return r


def reader(d, tok):
    return d.request("GET", "/reader", headers=bearer(tok))


def refused_within(d, tok, seconds=PROPAGATION):
    """True when tok is refused on every worker of d within seconds of
    now (new connections spread over the workers)."""
    deadline = time.monotonic() + seconds
    while True:
        statuses = [reader(d, tok).status for _ in range(2 * d.workers)]
        if set(statuses) == {401}:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def strip_ids(resp):
    """Head fields and body with the request id, Date and the problem's
    instance (which names the request id) removed."""
    rid = resp.header("X-Request-Id")
    heads = [(k.lower(), v) for k, v in resp.headers
             if k.lower() not in ("x-request-id", "date")]
    body = resp.body.replace(rid.encode(), b"<rid>") if rid else resp.body
    return resp.status, heads, body


class Base(unittest.TestCase):
    def assertGeneric401(self, r, msg=None):
        self.assertEqual(r.status, 401, msg)
        self.assertEqual(r.header("Content-Type"),
                         "application/problem+json", msg)
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer", msg)


class TestLogin(Base):
    def test_success_and_token(self):
        r = login(A, "alice")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        doc = r.json()
        self.assertEqual(set(doc), {"access_token", "token_type",
                                    "expires_in", "refresh_token"})
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertEqual(doc["expires_in"], 900)
        self.assertRegex(doc["refresh_token"], r"^[A-Za-z0-9_-]{43}$")
        h, c, s = doc["access_token"].split(".")
        hdr = b64u_json(h)
        self.assertEqual(hdr["alg"], "EdDSA")
        self.assertEqual(hdr["typ"], "at+jwt")
        self.assertIn("kid", hdr)
        cl = b64u_json(c)
        self.assertEqual(cl["iss"], ISS)
        self.assertEqual(cl["aud"], AUD)
        self.assertEqual(cl["sub"], USERS["alice"])
        self.assertEqual(cl["name"], "alice")
        self.assertEqual(cl["roles"], ["editor"])
        self.assertEqual(cl["exp"] - cl["iat"], 900)
        self.assertLessEqual(cl["nbf"], cl["iat"])
        self.assertLessEqual(abs(cl["iat"] - time.time()), 5)
        self.assertEqual(CLUSTER.value(
            "SELECT user_id FROM bulwark.refresh_families WHERE id = "
            ":'s'", {"s": cl["sid"]}), USERS["alice"])
        self.assertTrue(cl["jti"])
        w = reader(A, doc["access_token"])
        self.assertEqual(w.status, 200, w.body)
        self.assertEqual(w.json(), {"id": USERS["alice"], "name": "alice"})

    def test_username_is_lowercased(self):
        self.assertEqual(login(A, "ALICE").status, 200)

    def test_generic_401_identical(self):
        wrong = login(A, "carol", "wrong password " + secrets.token_hex(4))
        unknown = login(A, "nosuchuser", PASSWORD)
        invalid = login(A, "not a valid name!", PASSWORD)
        long_pw = login(A, "carol", "x" * 200)
        for r in (wrong, unknown, invalid, long_pw):
            self.assertGeneric401(r)
        self.assertEqual(strip_ids(wrong), strip_ids(unknown))
        self.assertEqual(strip_ids(wrong), strip_ids(invalid))
        self.assertEqual(strip_ids(wrong), strip_ids(long_pw))
        self.assertEqual(login(A, "carol").status, 200)

    def test_log_lines_of_a_login(self):
        # The access-log line of a successful login names the user.
        r = login(A, "alice")
        self.assertEqual(r.status, 200, r.body)
        rid = r.header("X-Request-Id")
        lines = [ln for ln in A.access_lines() if ln.get("request_id") == rid]
        self.assertEqual(len(lines), 1, A.access_lines()[-3:])
        self.assertEqual(lines[0]["user"], "alice")
        # A failed one does not; an invalid name is never echoed.
        r = login(A, "not a valid\tname!", PASSWORD)
        self.assertGeneric401(r)
        rid = r.header("X-Request-Id")
        lines = [ln for ln in A.access_lines() if ln.get("request_id") == rid]
        self.assertIsNone(lines[0]["user"])
        err = A.stderr_text()
        self.assertIn("%s auth.login: credentials of an invalid username "
                      "refused" % rid, err)
        self.assertNotIn("credentials of  refused", err)
        self.assertNotIn("not a valid", err)

    def test_malformed_bodies(self):
        for raw in (b"[]", b'"x"', b"1", b'{"username":"alice"}',
                    b'{"username":"alice","password":1}',
                    b'{"username":["alice"],"password":"x"}',
                    b'{"username":null,"password":"x"}'):
            r = post(A, LOGIN, None, raw=raw)
            self.assertEqual(r.status, 400, raw)
        r = post(A, LOGIN, None, raw=b'{"username":')
        self.assertEqual(r.status, 400)
        r = post(A, LOGIN, {"username": "alice", "password": PASSWORD,
                            "extra": "x"})
        self.assertEqual(r.status, 422)
        r = A.request("POST", LOGIN, headers=[("Content-Type",
                                              "text/plain")],
                      body=json.dumps({"username": "alice",
                                       "password": PASSWORD}).encode())
        self.assertEqual(r.status, 415)
        big = {"username": "alice", "password": "x" * 4100}
        self.assertEqual(post(A, LOGIN, big).status, 413)
        fits = {"username": "alice", "password": "y" * 4000}
        self.assertGeneric401(post(A, LOGIN, fits))
        self.assertEqual(A.request("GET", LOGIN).status, 405)

    def test_lockout_existing_and_unknown(self):
        for name in ("dave", "ghost-" + secrets.token_hex(3)):
            for i in range(MAX_FAILURES):
                r = login(A, name, "wrong password %d!!" % i)
                self.assertGeneric401(r, "%s #%d" % (name, i))
            for pw in ("wrong password again", PASSWORD):
                r = login(A, name, pw)
                self.assertEqual(r.status, 429, "%s %r" % (name, r.body))
                ra = int(r.header("Retry-After"))
                self.assertTrue(1 <= ra <= 60, ra)
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.login_failures WHERE "
            "username LIKE 'ghost-%' AND ip IS NOT NULL AND "
            "locked_until > now()"), "1")

    def test_lockout_per_ip_then_per_username(self):
        """A (username, IP) lockout leaves other addresses alone (A trusts
        X-Forwarded-For from 127.0.0.1); failures spread over addresses
        lock the username at 4 x max_failures, for every address."""
        def xff(i):
            return [("X-Forwarded-For", "192.0.2.%d" % i)]
        for i in range(MAX_FAILURES):
            self.assertGeneric401(post(A, LOGIN, {"username": "judy",
                                                  "password": "bad %d" % i},
                                       xff(1)))
        self.assertEqual(post(A, LOGIN, {"username": "judy",
                                         "password": PASSWORD},
                              xff(1)).status, 429)
        r = post(A, LOGIN, {"username": "judy", "password": PASSWORD},
                 xff(2))
        self.assertEqual(r.status, 200, r.body)
        ISSUED.append(r.json()["refresh_token"])
        for i in range(3 * MAX_FAILURES):
            self.assertGeneric401(post(A, LOGIN, {"username": "judy",
                                                  "password": "bad"},
                                       xff(10 + i % 2 + 2 * (i // 2))))
        for i in (2, 99):
            r = post(A, LOGIN, {"username": "judy", "password": PASSWORD},
                     xff(i))
            self.assertEqual(r.status, 429, i)
            self.assertGreaterEqual(int(r.header("Retry-After")), 1)

    def test_rehash_on_changed_parameters(self):
        before = CLUSTER.value("SELECT password_hash FROM bulwark.users "
                               "WHERE username = 'frank'")
        self.assertIn("$m=19456,t=2,p=1$", before)
        tokens(B, "frank")
        after = CLUSTER.value("SELECT password_hash FROM bulwark.users "
                              "WHERE username = 'frank'")
        self.assertIn("$m=19456,t=3,p=1$", after)
        self.assertNotEqual(before, after)
        tokens(A, "frank")


class TestRefresh(Base):
    def test_rotation(self):
        at, rt = tokens(A, "bob")
        r = refresh(A, rt)
        self.assertEqual(r.status, 200, r.body)
        doc = r.json()
        self.assertNotEqual(doc["refresh_token"], rt)
        self.assertEqual(b64u_json(doc["access_token"].split(".")[1])["sid"],
                         b64u_json(at.split(".")[1])["sid"])
        self.assertEqual(reader(A, doc["access_token"]).status, 200)
        self.assertGeneric401(refresh(A, rt))

    def test_reuse_revokes_family(self):
        at, r1 = tokens(A, "bob")
        r2 = refresh(A, r1).json()["refresh_token"]
        self.assertGeneric401(refresh(A, r1))
        self.assertGeneric401(refresh(A, r2))
        sid = b64u_json(at.split(".")[1])["sid"]
        self.assertEqual(CLUSTER.value(
            "SELECT revoked_at IS NOT NULL FROM bulwark.refresh_families "
            "WHERE id = :'s'", {"s": sid}), "t")

    def test_absolute_expiry(self):
        at, rt = tokens(A, "bob")
        sid = b64u_json(at.split(".")[1])["sid"]
        q = ("SELECT extract(epoch FROM expires_at - created_at)::int, "
             "expires_at FROM bulwark.refresh_families WHERE id = :'s'")
        ttl, expires = CLUSTER.rows(q, {"s": sid})[0]
        self.assertEqual(ttl, "3600")
        time.sleep(1.1)
        r = refresh(A, rt)
        self.assertEqual(r.status, 200)
        rt2 = r.json()["refresh_token"]
        self.assertEqual(CLUSTER.rows(q, {"s": sid})[0][1], expires,
                         "rotation never extends the family")
        # refresh_ttl is at least 1m (SPEC 4): the family's end is moved
        # into the past instead of waiting for it.
        CLUSTER.psql("UPDATE bulwark.refresh_families SET "
                     "expires_at = now() - interval '1 second' "
                     "WHERE id = :'s'", {"s": sid})
        self.assertGeneric401(refresh(A, rt2))
        self.assertEqual(CLUSTER.value(
            "SELECT revoked_at IS NULL FROM bulwark.refresh_families "
            "WHERE id = :'s'", {"s": sid}), "t")

    def test_malformed_and_unknown(self):
        for tok in ("", "x", "A" * 42, "A" * 44, "A" * 42 + "=",
                    secrets.token_urlsafe(32)):
            self.assertGeneric401(refresh(A, tok), tok)
        self.assertEqual(post(A, REFRESH, {"token": "x"}).status, 422)
        self.assertEqual(post(A, REFRESH, {}).status, 400)

    def test_token_confusion(self):
        at, rt = tokens(A, "bob")
        self.assertGeneric401(refresh(A, at))
        r = reader(A, rt)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header("WWW-Authenticate"),
                         'Bearer error="invalid_token"')
        self.assertEqual(refresh(A, rt).status, 200)


class TestLogout(Base):
    def test_logout(self):
        at, rt = tokens(A, "carol")
        self.assertEqual(reader(A, at).status, 200)
        r = post(A, LOGOUT, {"refresh_token": rt}, bearer(at))
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        self.assertTrue(refused_within(A, at))
        self.assertGeneric401(refresh(A, rt))
        jti = b64u_json(at.split(".")[1])["jti"]
        self.assertEqual(CLUSTER.value(
            "SELECT count(*) FROM bulwark.denied_jtis WHERE jti = :'j'",
            {"j": jti}), "1")

    def test_logout_without_bearer(self):
        at, rt = tokens(A, "carol")
        r = post(A, LOGOUT, {"refresh_token": rt})
        self.assertEqual(r.status, 204)
        self.assertGeneric401(refresh(A, rt))

    def test_logout_other_users_bearer(self):
        at_a, rt_a = tokens(A, "alice")
        at_b, rt_b = tokens(A, "bob")
        self.assertGeneric401(post(A, LOGOUT, {"refresh_token": rt_a},
                                   bearer(at_b)))
        self.assertEqual(reader(A, at_b).status, 200)
        self.assertEqual(refresh(A, rt_a).status, 200)

    def test_other_instance_within_one_second(self):
        at, rt = tokens(A, "gina")
        self.assertEqual(reader(B, at).status, 200)
        self.assertEqual(post(A, LOGOUT, {"refresh_token": rt},
                              bearer(at)).status, 204)
        self.assertTrue(refused_within(B, at), "instance B")
        self.assertTrue(refused_within(A, at), "instance A")


class TestRevokeSessions(Base):
    def test_revoke_sessions(self):
        at, rt = tokens(A, "hank")
        self.assertEqual(reader(A, at).status, 200)
        time.sleep(1.1)
        rc, out, err = A.admin("--revoke-sessions", "hank")
        self.assertEqual(rc, 0, err)
        self.assertTrue(refused_within(A, at))
        self.assertTrue(refused_within(B, at))
        self.assertGeneric401(refresh(A, rt))
        at2, _ = tokens(A, "hank")
        self.assertEqual(reader(A, at2).status, 200)


class TestMeAndPassword(Base):
    def test_me(self):
        at, _ = tokens(A, "alice")
        r = A.request("GET", ME, headers=bearer(at))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"id": USERS["alice"],
                                    "username": "alice",
                                    "roles": ["editor"]})
        r = A.request("GET", ME)
        self.assertGeneric401(r)
        r = A.request("GET", ME, headers=bearer("x.y.z"))
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header("WWW-Authenticate"),
                         'Bearer error="invalid_token"')

    def test_password_change(self):
        other_at, other_rt = tokens(A, "erin")
        at, rt = tokens(A, "erin")
        new = "a brand new password " + secrets.token_hex(4)
        ISSUED.append(new)
        self.assertGeneric401(post(A, CHANGE, {"current_password": "nope",
                                               "new_password": new}))
        r = post(A, CHANGE, {"current_password": PASSWORD,
                             "new_password": new})
        self.assertGeneric401(r)
        r = post(A, CHANGE, {"current_password": PASSWORD,
                             "new_password": "short"}, bearer(at))
        self.assertEqual(r.status, 422)
        r = post(A, CHANGE, {"current_password": "wrong " + PASSWORD,
                             "new_password": new}, bearer(at))
        self.assertGeneric401(r)
        self.assertEqual(CLUSTER.value(
            "SELECT failures FROM bulwark.login_failures WHERE "
            "username = 'erin' AND ip IS NOT NULL"), "1")
        r = post(A, CHANGE, {"current_password": PASSWORD,
                             "new_password": new}, bearer(at))
        self.assertEqual(r.status, 204, r.body)
        self.assertTrue(refused_within(A, other_at))
        self.assertGeneric401(refresh(A, other_rt))
        self.assertEqual(reader(A, at).status, 200)
        self.assertEqual(refresh(A, rt).status, 200)
        self.assertGeneric401(login(A, "erin"))
        self.assertEqual(login(A, "erin", new).status, 200)

    def test_api_key_is_not_a_user(self):
        rc, out, err = A.admin("--add-api-key", "ep-bot", "--roles",
                             "reader")
        self.assertEqual(rc, 0, err)
        key = re.search(r"bwk_[a-z2-7]{8}_[A-Za-z0-9_-]{43}", out).group(0)
        ISSUED.append(key)
        h = [("X-API-Key", key)]
        # Every worker learns the key over LISTEN/NOTIFY: wait until ten
        # requests in a row (new connections, spread over the workers)
        # are admitted.
        deadline = time.monotonic() + 10 * harness.SLOW
        ok = 0
        while ok < 10:
            self.assertLess(time.monotonic(), deadline)
            if A.request("GET", "/reader", headers=h).status == 200:
                ok += 1
            else:
                ok = 0
                time.sleep(0.1)
        self.assertEqual(A.request("GET", ME, headers=h).status, 403)
        _, rt = tokens(A, "ivan")
        self.assertEqual(post(A, LOGOUT, {"refresh_token": rt}, h).status,
                         403)
        self.assertEqual(refresh(A, rt).status, 200)

    def test_password_missing_member(self):
        at, _ = tokens(A, "ivan")
        self.assertEqual(post(A, CHANGE, {"current_password": PASSWORD},
                              bearer(at)).status, 400)


class TestStorage(Base):
    def test_no_secret_in_clear(self):
        tokens(A, "alice")
        env = CLUSTER._psql_env()
        p = subprocess.run(["pg_dump", "--schema=bulwark", "-d",
                            CLUSTER.db], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        dump = p.stdout.decode("utf-8")
        self.assertGreater(len(ISSUED), 10)
        for secret in set(ISSUED):
            self.assertNotIn(secret, dump)
            if len(secret) == 43:
                raw = base64.urlsafe_b64decode(secret + "=")
                self.assertNotIn(raw.hex(), dump)
        self.assertTrue(re.search(r"\$argon2id\$v=19\$m=19456,t=2,p=1\$",
                                  dump))


class TestEndpointRateLimit(unittest.TestCase):
    """auth.endpoint_rate_limit applies to the built-in endpoints: past
    the burst, 429 with Retry-After before any password is looked at."""

    def test_login_rate_limited(self):
        cfg = auth_config()
        cfg["endpoint_rate_limit"] = {"by": "ip", "rate": "1/h", "burst": 3}
        d = pg.PgDaemon(CLUSTER, routes=routes(), name="authep-rl",
                        workers=1)
        d.write_config({"auth": cfg, "roles": ROLES}, routes())
        d.start()
        try:
            # Wait on a declared route: each endpoint has its own budget.
            d.wait_db_ready("/reader", want=401)
            time.sleep(1.5)
            statuses = [post(d, LOGIN, {"username": "alice",
                                        "password": PASSWORD}).status
                        for _ in range(3)]
            self.assertEqual(statuses, [200, 200, 200])
            r = post(d, LOGIN, {"username": "alice", "password": PASSWORD})
            self.assertEqual(r.status, 429)
            self.assertGreaterEqual(int(r.header("Retry-After")), 1)
            # Declared routes keep their own limit.
            self.assertEqual(d.request("GET", "/reader").status, 401)
        finally:
            d.stop_and_check()


if __name__ == "__main__":
    unittest.main()
