"""
test_config.py - `bulwarkd -t --no-db -c FILE` on bad and good configurations.

For every class of configuration error of SPEC 4 a configuration is written
into a private temporary directory and checked with the real binary; the
test asserts exit status 1 and the exact `FILE:LINE:COL: ` prefix on stderr.
A file with three errors must print all three, in file order.  A valid
configuration (with a self-signed certificate made by openssl) prints
`configuration OK` and exits 0, and `-T` prints the defaults.

Environment: BULWARKD (the binary), SHAREDDIR (unused here).  Python 3
standard library only.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BULWARKD = os.environ.get("BULWARKD", "")

BASE = ("version: 1\n"
        "server:\n"
        "  plaintext: true\n"
        "  trusted_proxies: [127.0.0.1]\n"
        "  user: nobody\n"
        "  group: nogroup\n")
# BASE has 6 lines; the next line is 7.

DBASE = BASE + ("database:\n"
                "  conninfo: \"dbname=app\"\n"
                "roles:\n"
                "  reader: {}\n"
                "routes:\n")
# DBASE has 11 lines; route items start on line 12.


def setUpModule():
    if not BULWARKD or not os.access(BULWARKD, os.X_OK):
        raise unittest.SkipTest("BULWARKD is not set to an executable")


class ConfigCase(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-config-")
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, text, name="bulwark.yaml", mode=0o644):
        p = self.path(name)
        data = text.encode("utf-8") if isinstance(text, str) else text
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        return p

    def run_check(self, cfg, *flags, env_extra=None):
        env = dict(os.environ)
        env.pop("CREDENTIALS_DIRECTORY", None)
        env["OPENSSL_CONF"] = "/dev/null"
        if env_extra:
            env.update(env_extra)
        args = [BULWARKD] + list(flags or ("-t",)) + ["--no-db", "-c", cfg]
        p = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error:", err)
        return p.returncode, p.stdout.decode("utf-8", "replace"), err

    def errors(self, stderr):
        return [ln for ln in stderr.splitlines()
                if ln and ": warning: " not in ln]

    def expect(self, text, line, col, words=None, env_extra=None):
        cfg = text if os.path.isabs(text) else self.write(text)
        rc, out, err = self.run_check(cfg, env_extra=env_extra)
        prefix = "%s:%d:%d: " % (cfg, line, col)
        self.assertEqual(rc, 1, "exit status; stderr:\n" + err)
        self.assertNotIn("configuration OK", out)
        hits = [ln for ln in self.errors(err) if ln.startswith(prefix)]
        self.assertTrue(hits, "no line starting with %r in:\n%s"
                        % (prefix, err))
        if words:
            self.assertTrue(any(words in ln for ln in hits),
                            "%r not in %r" % (words, hits))
        return err

    def make_cert(self):
        cert, key = self.path("cert.pem"), self.path("key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2",
             "-subj", "/CN=localhost"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, OPENSSL_CONF="/dev/null"))
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)
        return cert, key

    def tls_config(self, cert, key, extra=""):
        return ("version: 1\n"
                "server:\n"
                "  listen: [\"127.0.0.1:18443\"]\n"
                "  workers: 1\n"
                "  user: nobody\n"
                "  group: nogroup\n"
                "  tls:\n"
                "    certificate: %s\n"
                "    private_key: %s\n"
                "  limits: {max_connections: 64}\n" % (cert, key) + extra)


class TestConfigErrors(ConfigCase):

    def test_unknown_key(self):
        self.expect(BASE + "  bogus: 1\n", 7, 3, "unknown key 'bogus'")

    def test_duplicate_key(self):
        self.expect(BASE + "  plaintext: false\n", 7, 3, "duplicate key")

    def test_wrong_type(self):
        self.expect(BASE + "  workers: many\n", 7, 12, "expected auto")
        self.expect(BASE + "  hostnames: a.example\n", 7, 14,
                    "expected a sequence")
        self.expect(BASE + "  cors: {allow_credentials: yes}\n", 7, 29,
                    "expected a boolean")

    def test_bad_integer_range(self):
        self.expect(BASE + "  limits:\n    max_headers: 1001\n", 8, 18,
                    "between 1 and 1000")

    def test_bad_duration(self):
        self.expect(BASE + "  shutdown_timeout: 5 s\n", 7, 21,
                    "invalid duration")

    def test_bad_size(self):
        self.expect(BASE + "  limits:\n    max_body_size: 1MB\n", 8, 20,
                    "invalid size")

    def test_bad_rate(self):
        self.expect(BASE + "  rate_limit: {rate: 5/d}\n", 7, 22,
                    "invalid rate")

    def test_anchor(self):
        self.expect(BASE + "  workers: &w 2\n", 7, 12, "anchors")

    def test_alias(self):
        self.expect(BASE + "  workers: *w\n", 7, 12, "aliases")

    def test_tag(self):
        self.expect(BASE + "  workers: !!int 2\n", 7, 12, "tags")

    def test_merge_key(self):
        self.expect(BASE + "  <<: {workers: 2}\n", 7, 3, "merge keys")

    def test_multiple_documents(self):
        self.expect(BASE + "---\nversion: 1\n", 7, 1, "several documents")

    def test_too_deep(self):
        # The root mapping is level 1, so the 64th '[' is level 65.
        self.expect(BASE + "x: " + "[" * 70 + "]" * 70 + "\n", 7, 67,
                    "nesting deeper than 64")

    def test_too_big(self):
        cfg = self.write(BASE + "#" * (4 * 1024 * 1024))
        self.expect(cfg, 1, 1, "larger than")

    def test_invalid_utf8(self):
        cfg = self.write(BASE.encode() + b"# caf\xe9\n")
        self.expect(cfg, 7, 6, "invalid UTF-8")

    def test_bom_error_positions(self):
        # A leading byte order mark is allowed; errors after it keep
        # their columns (the BOM is column 1 of line 1 only).
        cfg = self.write(b"\xef\xbb\xbf" + BASE.encode() +
                         b"  workers: 0\n")
        self.expect(cfg, 7, 12, "between 1 and")
        cfg = self.write(b"\xef\xbb\xbf" + b"bogus: 1\n" + BASE[11:].encode())
        self.expect(cfg, 1, 2, "unknown key 'bogus'")

    def test_syntax_error(self):
        self.expect(BASE + "  listen: [\"1.2.3.4:1\"\n", 8, 1,
                    "syntax error")

    def test_missing_required_key(self):
        self.expect(BASE + "database:\n  pool_size: 2\n", 8, 3,
                    "missing required key 'conninfo'")

    def test_missing_version(self):
        self.expect("server: {plaintext: true, trusted_proxies: "
                    "[127.0.0.1]}\n", 1, 1, "missing required key 'version'")

    def test_missing_tls(self):
        self.expect("version: 1\nserver:\n  workers: 1\n", 3, 3,
                    "missing required key 'certificate'")

    def test_bad_listen(self):
        self.expect(BASE + "  listen: [\"1.2.3.4\"]\n", 7, 12, "host:port")
        self.expect(BASE + "  listen: [\"[::1]:0\"]\n", 7, 12,
                    "invalid port")

    def test_cors_star_with_credentials(self):
        self.expect(BASE + "  cors: {allow_origins: [\"*\"], "
                    "allow_credentials: true}\n", 7, 26,
                    "cannot be used with allow_credentials")

    def test_bad_header_name(self):
        self.expect(BASE + "  headers: {\"Bad Name\": x}\n", 7, 13,
                    "not a token")
        self.expect(BASE + "  headers: {Server: x}\n", 7, 13,
                    "cannot be overridden")

    def test_role_cycle(self):
        self.expect(BASE + "roles:\n  a: {inherits: [b]}\n"
                    "  b: {inherits: [a]}\n", 8, 3, "cycle")

    def test_route_without_roles(self):
        self.expect(DBASE + "  - name: a\n    method: GET\n    path: /a\n"
                    "    sql: SELECT 1\n", 12, 5,
                    "missing required key 'roles'")

    def test_unknown_role(self):
        self.expect(DBASE + "  - {name: a, method: GET, path: /a, "
                    "roles: [nobody], sql: x}\n", 12, 46,
                    "unknown role 'nobody'")

    def test_duplicate_route_name(self):
        self.expect(DBASE + "  - {name: a, method: GET, path: /a, "
                    "roles: [public], sql: x}\n"
                    "  - {name: a, method: GET, path: /b, "
                    "roles: [public], sql: x}\n", 13, 12,
                    "duplicate route name")

    def test_select_into_refused(self):
        # SELECT ... INTO creates a table: refused at the sql value.
        self.expect(DBASE + "  - name: a\n    method: GET\n    path: /a\n"
                    "    roles: [public]\n"
                    "    sql: SELECT 1 INTO TEMP t\n", 16, 10,
                    "SELECT ... INTO")

    def test_path_param_without_schema(self):
        self.expect(DBASE + "  - {name: a, method: GET, path: \"/a/{id}\", "
                    "roles: [public], sql: x}\n", 12, 5,
                    "path parameter 'id' has no schema")

    def test_body_on_get(self):
        self.expect(DBASE + "  - name: a\n    method: GET\n    path: /a\n"
                    "    roles: [public]\n    body: {type: object}\n"
                    "    sql: x\n", 16, 11, "GET routes take no body")

    def test_timeout_too_long(self):
        self.expect(DBASE + "  - name: a\n    method: GET\n    path: /a\n"
                    "    roles: [public]\n    sql: x\n    timeout: 30s\n",
                    17, 14, "exceeds server.limits.request_timeout")

    def test_database_required(self):
        self.expect(BASE + "routes:\n  - {name: a, method: GET, path: /a, "
                    "roles: [public], sql: x}\n", 1, 1,
                    "missing required key 'database'")

    def test_password_in_conninfo(self):
        self.expect(BASE + "database:\n  conninfo: \"dbname=a password=x\"\n",
                    8, 13, "must not contain a password")
        # The password itself never reaches the output.
        err = self.expect(BASE + "database:\n  conninfo: "
                          "\"dbname=a password=hunter2\"\n", 8, 13)
        self.assertNotIn("hunter2", err)

    def test_secret_file_bad_mode(self):
        key = self.write("k\n", "jwt.key", 0o644)
        self.expect(BASE + "database:\n  conninfo: \"dbname=a\"\n"
                    "  password_file: %s\n" % key, 9, 18,
                    "accessible by others")

    def test_secret_file_symlink(self):
        key = self.write("k\n", "jwt.key", 0o600)
        link = self.path("link.key")
        os.symlink(key, link)
        self.expect(BASE + "database:\n  conninfo: \"dbname=a\"\n"
                    "  password_file: %s\n" % link, 9, 18, "symbolic link")

    def test_tls_key_bad_mode(self):
        cert, key = self.make_cert()
        os.chmod(key, 0o640 | 0o004)
        self.expect(self.tls_config(cert, key), 9, 18, "secret file")

    def test_credential_without_directory(self):
        self.expect(BASE + "database:\n  conninfo: \"dbname=a\"\n"
                    "  password_file: credential:db\n", 9, 18,
                    "CREDENTIALS_DIRECTORY")

    def test_credential_expanded(self):
        self.write("pw\n", "db", 0o600)
        cfg = self.write(BASE + "database:\n  conninfo: \"dbname=a\"\n"
                         "  password_file: credential:db\n")
        rc, out, err = self.run_check(
            cfg, "-T", env_extra={"CREDENTIALS_DIRECTORY": self.dir})
        self.assertEqual(rc, 0, err)
        self.assertIn("password_file: \"%s\"" % self.path("db"), out)

    def test_three_errors_in_file_order(self):
        cfg = self.write(BASE + "  limits:\n    max_headers: 5000\n"
                         "  bogus: 1\n  shutdown_timeout: soon\n")
        rc, out, err = self.run_check(cfg)
        self.assertEqual(rc, 1, err)
        lines = self.errors(err)
        self.assertEqual(len(lines), 3, err)
        self.assertTrue(lines[0].startswith("%s:8:18: " % cfg), err)
        self.assertTrue(lines[1].startswith("%s:9:3: " % cfg), err)
        self.assertTrue(lines[2].startswith("%s:10:21: " % cfg), err)


class TestConfigValid(ConfigCase):

    def test_valid_tls_config(self):
        cert, key = self.make_cert()
        cfg = self.write(self.tls_config(cert, key))
        rc, out, err = self.run_check(cfg)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "configuration OK\n")

    def test_valid_config_with_bom(self):
        cfg = self.write(b"\xef\xbb\xbf" + BASE.encode())
        rc, out, err = self.run_check(cfg)
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", out)

    def test_valid_plaintext_config(self):
        cfg = self.write(BASE)
        rc, out, err = self.run_check(cfg)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "configuration OK\n")

    def test_dump_has_defaults(self):
        cert, key = self.make_cert()
        cfg = self.write(self.tls_config(cert, key))
        rc, out, err = self.run_check(cfg, "-T")
        self.assertEqual(rc, 0, err)
        for want in ("max_headers: 64\n", "header_timeout: 10s\n",
                     "max_body_size: 1MiB\n", "profile: intermediate\n",
                     "hsts: 730d\n", "seccomp: enforce\n",
                     "rate_limit: {by: ip, rate: \"100/s\", burst: 200}\n",
                     "max_connections: 64\n", "level: \"info\"\n"):
            self.assertIn(want, out)
        self.assertNotIn("configuration OK", out)
        # The dump is itself a valid configuration that dumps the same.
        again = self.write(out, "dump.yaml")
        rc, out2, err = self.run_check(again, "-T")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.split("\n", 1)[1], out2.split("\n", 1)[1])

    def test_reference_config(self):
        ref = os.path.join(REPO, "conf", "bulwark.yaml")
        if not os.path.exists(ref):
            self.skipTest("conf/bulwark.yaml not found")
        cert, key = self.make_cert()
        with open(ref) as f:
            text = f.read()
        text = text.replace("/etc/bulwark/tls/cert.pem", cert)
        text = text.replace("/etc/bulwark/tls/key.pem", key)
        text = text.replace("bulwark-worker", "nobody", 1)
        text = text.replace("group: bulwark-worker", "group: nogroup")
        text = text.replace("max_connections: 10000", "max_connections: 64")
        cfg = self.write(text)
        rc, out, err = self.run_check(cfg)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "configuration OK\n")



class TestAuditAndBackupSections(ConfigCase):
    """The audit and backup sections are implemented: -t accepts them
    (they were refused at their key while they were not)."""

    def test_sections_accepted(self):
        key = self.write("k" * 32, name="audit.key", mode=0o600)
        bkey = self.write("b" * 32, name="backup.key", mode=0o600)
        text = (BASE + "database:\n"
                "  conninfo: \"dbname=app\"\n"
                "audit:\n"
                "  file: %s\n"
                "  key_file: %s\n"
                "  instance_id: 0123456789abcdef\n"
                "backup:\n"
                "  directory: %s\n"
                "  key_file: %s\n" % (self.path("audit.log"), key,
                                      self.path("."), bkey))
        cfg = self.write(text)
        rc, out, err = self.run_check(cfg)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("not available", err)
        self.assertEqual(out, "configuration OK\n")


if __name__ == "__main__":
    unittest.main()
