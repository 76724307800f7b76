"""
harness.py - run a real bulwarkd and talk to it over TLS.

Every integration test starts the daemon binary named by $BULWARKD on a
configuration written into a private temporary directory (certificate,
key, pid file, access log), listening on 127.0.0.1 on a port chosen by
binding port 0 first.  The daemon runs in the foreground with its stderr
captured to a file; teardown stops it with SIGTERM and asserts that it
exited 0 and that no sanitizer reported anything.  Daemon.admin runs an
administration command (bulwarkd -c CONF --add-user ...) on the same
configuration, gen_key makes a key with bulwarkd --gen-key.

The HTTP client here is deliberately strict: a response must have a valid
status line, token field names, no obs-fold and exactly one Content-Length
(SPEC 5: responses always carry Content-Length, except 1xx and 204);
anything else is a ProtocolError, so a framing bug in the daemon cannot
be papered over by a forgiving client.

Python 3 standard library only.  TLS tests need OPENSSL_CONF=/dev/null in
this process (run.py re-executes itself with it) and in every child.
"""

import atexit
import errno
import grp
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BULWARKD = os.environ.get("BULWARKD", "")
SHAREDDIR = os.environ.get("SHAREDDIR") or os.path.join(REPO, "..", "shared")
KEEP = os.environ.get("BW_INTEG_KEEP", "") == "1"

# The seccomp mode of the workers; SPEC default is enforce.
SECCOMP = os.environ.get("BW_INTEG_SECCOMP", "enforce")

# Content of a problem "detail" (bulwarkd(8) fixed table) for the 400s that
# are decided after the head was framed and routed: the message framing was
# accepted.  Every other 400 is a framing refusal.
POST_FRAMING_400 = {
    "this route requires a JSON request body",
    "the request body is not valid JSON",
    "the request body is nested too deeply",
    "the request parameters are invalid",
}

# Statuses SPEC 5 prescribes for refusing a request head.
REJECT_STATUSES = {400, 414, 417, 431, 501, 505}

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:",
                     "LeakSanitizer", "UndefinedBehaviorSanitizer")

# What bulwarkd may write to stderr: a JSON object per line (its log, an
# access log sent there), a plain log line ("bulwarkd[PID] PROCESS:
# LEVEL: ...", before the configuration is read) or a diagnostic of the
# configuration ("FILE:LINE:COL: ...").
PLAIN_LOG_LINE = re.compile(
    r"bulwarkd\[\d+\] [^:]+: (debug|info|notice|warning|error): ")
CONF_DIAG_LINE = re.compile(r"[^:]+:\d+:\d+: ")


def stray_stderr_lines(text):
    """The lines of a daemon's stderr that are none of the above: a
    library printing on its own, a message that escaped the log."""
    stray = []
    for line in text.splitlines():
        if not line or PLAIN_LOG_LINE.match(line) or \
                CONF_DIAG_LINE.match(line):
            continue
        try:
            if isinstance(json.loads(line), dict):
                continue
        except ValueError:
            pass
        stray.append(line)
    return stray


def require_binary():
    """Skip (with the reason) when there is no daemon to test."""
    if not BULWARKD:
        raise unittest.SkipTest("BULWARKD is not set")
    if not os.access(BULWARKD, os.X_OK):
        raise unittest.SkipTest("BULWARKD=%s is not executable" % BULWARKD)


def is_sanitized():
    """True when the binary was built with ASan (slower start-up)."""
    try:
        with open(BULWARKD, "rb") as fp:
            return b"__asan_init" in fp.read()
    except OSError:
        return False


SLOW = 1.0


def slow_factor():
    global SLOW
    if SLOW == 1.0 and BULWARKD and is_sanitized():
        SLOW = 3.0
    return SLOW


def child_env(**extra):
    env = dict(os.environ)
    env["OPENSSL_CONF"] = "/dev/null"
    env.update(extra)
    return env


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile(want):
    """Raise this process's RLIMIT_NOFILE soft limit toward want."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------
# Certificates

_CERT_DIR = None


def make_cert(directory, name="localhost", key_type="ec"):
    """Self-signed certificate for localhost (SAN DNS:localhost,
    IP:127.0.0.1) made with the openssl CLI; key mode 0600."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    if key_type == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        newkey = ["-newkey", "rsa:2048"]
    old = os.umask(0o077)
    try:
        subprocess.run(
            ["openssl", "req", "-x509"] + newkey +
            ["-nodes", "-keyout", key, "-out", cert, "-days", "3",
             "-subj", "/CN=" + name,
             "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % name],
            check=True, env=child_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
    finally:
        os.umask(old)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def shared_cert():
    """One certificate per test run, copied into each daemon's directory."""
    global _CERT_DIR
    if _CERT_DIR is None:
        _CERT_DIR = tempfile.mkdtemp(prefix="bw-integ-cert-")
        atexit.register(shutil.rmtree, _CERT_DIR, True)
        make_cert(_CERT_DIR)
    return (os.path.join(_CERT_DIR, "cert.pem"),
            os.path.join(_CERT_DIR, "key.pem"))


# ---------------------------------------------------------------------------
# YAML (a block-style emitter for plain dicts/lists/scalars; strings are
# written double-quoted with JSON escapes, which YAML 1.2 reads the same)

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict) and not v:
        return "{}"
    if isinstance(v, list) and not v:
        return "[]"
    raise TypeError("cannot write %r as YAML" % (v,))


def _yaml_key(k):
    return k if _PLAIN_KEY.match(k) else json.dumps(k)


def _yaml_lines(v, ind, out):
    pad = "  " * ind
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append("%s%s:" % (pad, _yaml_key(k)))
                _yaml_lines(x, ind + 1, out)
            else:
                out.append("%s%s: %s" % (pad, _yaml_key(k), _yaml_scalar(x)))
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)) and x:
                sub = []
                _yaml_lines(x, ind + 1, sub)
                first = sub[0][len("  " * (ind + 1)):]
                out.append("%s- %s" % (pad, first))
                out.extend(sub[1:])
            else:
                out.append("%s- %s" % (pad, _yaml_scalar(x)))
    else:
        out.append(pad + _yaml_scalar(v))


def to_yaml(doc):
    out = []
    _yaml_lines(doc, 0, out)
    return "\n".join(out) + "\n"


DELETE = object()


def merge(base, over):
    """Deep-merge over into base (in place); DELETE removes a key."""
    for k, v in over.items():
        if v is DELETE:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict) and v:
            merge(base[k], v)
        else:
            base[k] = v
    return base


def route(name, method, path, **kw):
    """A route answered by the daemon without a database as 503: public,
    a body schema accepting any JSON for POST/PUT/PATCH, fixed SQL."""
    r = {"name": name, "method": method, "path": path, "roles": ["public"]}
    if method in ("POST", "PUT", "PATCH"):
        r["body"] = {}
    r["sql"] = "SELECT 1 AS one"
    r.update(kw)
    return r


def service_identity():
    if os.getuid() == 0:
        return "nobody", "nogroup"
    return (pwd.getpwuid(os.getuid()).pw_name,
            grp.getgrgid(os.getgid()).gr_name)


# ---------------------------------------------------------------------------
# HTTP client


class Closed(Exception):
    """The peer closed (or reset) before a response began."""

    def __init__(self, msg="closed", reset=False):
        Exception.__init__(self, msg)
        self.reset = reset


class Timeout(Exception):
    pass


class ProtocolError(Exception):
    pass


_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_STATUS_RE = re.compile(rb"^HTTP/1\.1 ([1-5][0-9][0-9]) ([\x20-\x7e]*)$")
_FIELD_RE = re.compile(rb"^(" + _TOKEN + rb"):[ \t]*([\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?[ \t]*$")


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] in order
        self.body = body
        self.raw_head = raw_head

    def all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def header(self, name):
        vals = self.all(name)
        if len(vals) > 1:
            raise ProtocolError("repeated response field %s" % name)
        return vals[0] if vals else None

    def names(self):
        return [k.lower() for k, _ in self.headers]

    def closes(self):
        v = self.header("connection")
        return v is not None and "close" in [t.strip().lower()
                                             for t in v.split(",")]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def problem_detail(self):
        try:
            return self.json().get("detail")
        except (ValueError, AttributeError):
            return None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.header("connection") or "")


class Conn:
    """One TLS (or plain) connection with a strict response reader."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.reset = False
        self.opened = time.monotonic()

    # -- sending

    def send(self, data):
        self.sock.sendall(data)

    def send_request(self, method, path, headers=(), body=None,
                     host="localhost", version="HTTP/1.1"):
        self.send(build_request(method, path, headers, body, host, version))

    # -- receiving

    def _fill(self, deadline):
        """Read more bytes into buf; False at EOF.  Raises Timeout."""
        if self.eof:
            return False
        while True:
            rem = deadline - time.monotonic()
            if rem <= 0:
                raise Timeout("no data from the peer in time")
            self.sock.settimeout(rem)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                raise Timeout("no data from the peer in time")
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                self.reset = True
                return False
            except ssl.SSLError as e:
                self.eof = True
                self.reset = "EOF" not in str(e)
                return False
            except OSError as e:
                if e.errno in (errno.ECONNRESET, errno.EPIPE):
                    self.eof = True
                    self.reset = True
                    return False
                raise
            if not data:
                self.eof = True
                return False
            self.buf += data
            return True

    def read_response(self, timeout=5.0, head=False):
        """The next response (1xx included).  head: a HEAD request's
        response, which has no body whatever Content-Length says."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise ProtocolError("response head too large")
            if not self._fill(deadline):
                if self.buf:
                    raise ProtocolError("truncated response head: %r" %
                                        self.buf[:200])
                raise Closed("closed before a response", reset=self.reset)
        end = self.buf.index(b"\r\n\r\n")
        raw_head = self.buf[:end]
        self.buf = self.buf[end + 4:]
        lines = raw_head.split(b"\r\n")
        m = _STATUS_RE.match(lines[0])
        if not m:
            raise ProtocolError("bad status line %r" % lines[0])
        status = int(m.group(1))
        headers = []
        for line in lines[1:]:
            if b"\n" in line or b"\r" in line:
                raise ProtocolError("bare CR/LF in response head")
            fm = _FIELD_RE.match(line)
            if not fm:
                raise ProtocolError("bad response field line %r" % line)
            headers.append((fm.group(1).decode(),
                            (fm.group(2) or b"").decode("latin-1")))
        resp = Response(status, m.group(2).decode(), headers, b"", raw_head)
        if resp.all("transfer-encoding"):
            raise ProtocolError("response with Transfer-Encoding")
        cls = resp.all("content-length")
        if 100 <= status < 200:
            if cls:
                raise ProtocolError("1xx with Content-Length")
            return resp
        if status == 204:
            return resp
        if len(cls) != 1 or not re.match(r"^[0-9]+$", cls[0]):
            raise ProtocolError("response %d without exactly one valid "
                                "Content-Length: %r" % (status, cls))
        if head:
            return resp
        n = int(cls[0])
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError("truncated response body (%d of %d)" %
                                    (len(self.buf), n))
        resp.body = self.buf[:n]
        self.buf = self.buf[n:]
        return resp

    def read_final(self, timeout=5.0, head=False):
        """The final response, skipping 1xx (returned as a list too)."""
        interim = []
        while True:
            r = self.read_response(timeout, head)
            if r.status >= 200:
                r.interim = interim
                return r
            interim.append(r)

    def roundtrip(self, method, path, headers=(), body=None, timeout=5.0,
                  **kw):
        self.send_request(method, path, headers, body, **kw)
        return self.read_final(timeout, head=(method == "HEAD"))

    def peer_closed(self, wait=0.5):
        """True when the peer closes (or reset) within wait seconds and
        sent nothing more; False when the connection stays open (any bytes
        that arrive are kept for the next read)."""
        if self.eof:
            return True
        try:
            got = self._fill(time.monotonic() + wait)
        except Timeout:
            return False
        if not got:
            return True
        return False

    def wait_closed(self, timeout):
        """Waits up to timeout for EOF; returns the time it came or None.
        Bytes received meanwhile are kept in buf."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not self._fill(deadline):
                    return time.monotonic()
            except Timeout:
                return None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def build_request(method, path, headers=(), body=None, host="localhost",
                  version="HTTP/1.1"):
    if isinstance(method, str):
        method = method.encode()
    if isinstance(path, str):
        path = path.encode()
    lines = [method + b" " + path + b" " + version.encode()]
    names = set()
    for k, v in headers:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        names.add(k.lower())
        lines.append(k + b": " + v)
    if host is not None and b"host" not in names:
        lines.insert(1, b"Host: " + host.encode())
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        if b"content-length" not in names and b"transfer-encoding" not in names:
            lines.append(b"Content-Length: " + str(len(body)).encode())
    else:
        body = b""
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def client_context(min_version=None, max_version=None, ciphers=None,
                   verify=True, cafile=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(cafile or shared_cert()[0])
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


_DEFAULT_CTX = None


def default_context():
    global _DEFAULT_CTX
    if _DEFAULT_CTX is None:
        _DEFAULT_CTX = client_context()
    return _DEFAULT_CTX


def tls_connect(port, host="127.0.0.1", server_hostname="localhost",
                context=None, timeout=10.0, session=None):
    """A handshaken TLS connection (Conn); raises on failure."""
    ctx = context or default_context()
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=server_hostname,
                            session=session)
    except BaseException:
        raw.close()
        raise
    return Conn(s)


def parse_http_date(value):
    """IMF-fixdate -> epoch seconds (strict format)."""
    m = re.match(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                 r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                 r"\d{4} \d\d:\d\d:\d\d GMT$", value)
    if not m:
        raise ValueError("not an IMF-fixdate: %r" % value)
    import email.utils
    return email.utils.parsedate_to_datetime(value).timestamp()


# ---------------------------------------------------------------------------
# Request stream analysis (used to know which responses belong to HEAD
# requests and which requests ask for the connection to be closed)


class ReqInfo:
    def __init__(self):
        self.method = None
        self.version = None
        self.close = False
        self.has_body = False
        self.complete = False


def split_requests(data):
    """Leniently frame a byte stream into requests: [ReqInfo], rest.
    Only used to interpret the daemon's answers; stops at anything it
    cannot frame."""
    out = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end]
        lines = head.split(b"\r\n")
        info = ReqInfo()
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            break
        info.method = parts[0].decode("latin-1")
        info.version = parts[2].decode("latin-1")
        cl = None
        chunked = False
        conn_tokens = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            n = name.lower()
            v = value.strip(b" \t")
            if n == b"content-length" and v.isdigit():
                cl = int(v)
            elif n == b"transfer-encoding":
                chunked = v.lower().split(b",")[-1].strip().startswith(b"chunked")
            elif n == b"connection":
                conn_tokens += [t.strip().lower() for t in v.split(b",")]
        if info.version == "HTTP/1.0":
            info.close = b"keep-alive" not in conn_tokens
        else:
            info.close = b"close" in conn_tokens
        pos = end + 4
        if chunked:
            info.has_body = True
            p = pos
            ok = False
            while True:
                le = data.find(b"\r\n", p)
                if le < 0:
                    break
                size_txt = data[p:le].split(b";")[0]
                try:
                    size = int(size_txt, 16)
                except ValueError:
                    break
                p = le + 2
                if size == 0:
                    te = data.find(b"\r\n\r\n", p - 2)
                    if te < 0:
                        break
                    p = te + 4
                    ok = True
                    break
                p += size + 2
                if p > len(data):
                    break
            if not ok:
                out.append(info)
                return out, data[pos:]
            info.complete = True
            pos = p
        elif cl:
            info.has_body = True
            if pos + cl > len(data):
                out.append(info)
                return out, data[pos:]
            info.complete = True
            pos += cl
        else:
            info.complete = True
        out.append(info)
    return out, data[pos:]


# ---------------------------------------------------------------------------
# The daemon


def _read_children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as fp:
                    kids += [int(x) for x in fp.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return sorted(set(kids))


def seccomp_status(pid):
    """(Seccomp, Seccomp_filters) from /proc/PID/status: the mode (2 when
    filtered) and how many filters are stacked; None when pid is gone."""
    vals = {}
    try:
        with open("/proc/%d/status" % pid) as fp:
            for line in fp:
                key, _, val = line.partition(":")
                if key in ("Seccomp", "Seccomp_filters"):
                    vals[key] = int(val)
    except OSError:
        return None
    return vals.get("Seccomp"), vals.get("Seccomp_filters")


def assert_own_filter(case, pid, master):
    """pid runs under a seccomp filter stacked on the master's: mode 2 and
    more filters than the master (under systemd every process has the
    unit's).  Skipped when the run turns seccomp off."""
    if SECCOMP == "off":
        case.skipTest("BW_INTEG_SECCOMP=off")
    child, parent = seccomp_status(pid), seccomp_status(master)
    case.assertIsNotNone(child, "pid %d is gone" % pid)
    case.assertIsNotNone(parent, "master %d is gone" % master)
    case.assertEqual(child[0], 2, "pid %d: Seccomp %r" % (pid, child))
    case.assertGreater(child[1], parent[1],
                       "pid %d: %r, master %r" % (pid, child, parent))


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as fp:
            return fp.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class Daemon:
    """A bulwarkd on a temporary configuration.

    config: a dict deep-merged over the base configuration, or a str
    written verbatim (with {port}, {dir}, {cert}, {key}, {user}, {group}
    substituted through str.format_map).
    routes: a list of route dicts (see route()); a `database` pointing at
    an empty Unix socket directory is added, so matched routes answer 503.
    """

    def __init__(self, config=None, routes=None, workers=2, seccomp=None,
                 access_log=True, name="bw"):
        require_binary()
        slow_factor()
        self.dir = tempfile.mkdtemp(prefix="bw-integ-%s-" % name)
        os.chmod(self.dir, 0o755)
        cert, key = shared_cert()
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        shutil.copy(cert, self.cert)
        shutil.copy(key, self.key)
        os.chmod(self.key, 0o600)
        self.sockdir = os.path.join(self.dir, "nodb")
        os.mkdir(self.sockdir)
        self.port = free_port()
        self.conf_path = os.path.join(self.dir, "bulwark.yaml")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.access_path = os.path.join(self.dir, "access.log")
        self.pid_file = os.path.join(self.dir, "bulwarkd.pid")
        self.workers = workers
        self.user, self.group = service_identity()
        self.seccomp = seccomp or SECCOMP
        self.access_log = access_log
        self.proc = None
        self.known_workers = set()
        self.write_config(config, routes)

    # -- configuration

    def base_config(self):
        cfg = {
            "version": 1,
            "server": {
                "listen": ["127.0.0.1:%d" % self.port],
                "workers": self.workers,
                "user": self.user,
                "group": self.group,
                "pid_file": self.pid_file,
                "shutdown_timeout": "10s",
                "tls": {"certificate": self.cert, "private_key": self.key},
                "rate_limit": None,
            },
            "security": {"seccomp": self.seccomp},
            "logging": {
                "level": "info",
                "access": self.access_path if self.access_log else "off",
            },
        }
        return cfg

    def database_config(self):
        return {
            "conninfo": "host=%s dbname=bulwark user=bulwark" % self.sockdir,
            "connect_timeout": "1s",
        }

    def render(self, config=None, routes=None):
        if isinstance(config, str):
            return config.format_map({
                "port": self.port, "dir": self.dir, "cert": self.cert,
                "key": self.key, "user": self.user, "group": self.group,
                "pid_file": self.pid_file, "access": self.access_path,
                "sockdir": self.sockdir, "seccomp": self.seccomp,
            })
        cfg = self.base_config()
        if routes:
            cfg["database"] = self.database_config()
            cfg["routes"] = routes
        if config:
            merge(cfg, config)
        self.config = cfg
        return to_yaml(cfg)

    def write_config(self, config=None, routes=None):
        text = self.render(config, routes)
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as fp:
            fp.write(text)
        os.chmod(tmp, 0o640)
        os.rename(tmp, self.conf_path)
        self.config_text = text

    # -- life cycle

    def start(self, wait=True, timeout=15.0):
        self._err = open(self.stderr_path, "ab")
        self._out = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(
            [BULWARKD, "-c", self.conf_path], stdin=subprocess.DEVNULL,
            stdout=self._out, stderr=self._err, env=child_env(),
            close_fds=True)
        if wait:
            self.wait_ready(timeout * SLOW)
        return self

    def start_or_stop(self, **kw):
        """start(); when that fails, stop() whatever came up and let the
        failure through.  Returns self."""
        try:
            return self.start(**kw)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout=15.0, probes=6):
        """Until `probes` consecutive TLS handshakes succeed (the listening
        sockets are per worker, so several probes reach every worker)."""
        deadline = time.monotonic() + timeout
        ok = 0
        last = None
        while ok < probes:
            if self.proc.poll() is not None:
                raise AssertionError(
                    "bulwarkd exited with %s during start-up:\n%s" %
                    (self.proc.returncode, self.stderr_tail()))
            if time.monotonic() > deadline:
                raise AssertionError(
                    "bulwarkd did not accept TLS within %.0fs (%s):\n%s" %
                    (timeout, last, self.stderr_tail()))
            try:
                c = tls_connect(self.port, timeout=2.0)
                c.close()
                ok += 1
            except (OSError, ssl.SSLError) as e:
                last = e
                ok = 0
                time.sleep(0.05)
        self.known_workers.update(self.worker_pids())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=20.0):
        """SIGTERM, kill -9 after timeout.  Returns a list of problems:
        non-zero exit status, sanitizer reports, stderr lines outside the
        log, leftover workers."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            self.known_workers.update(self.worker_pids())
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.proc.kill()
            rc = self.proc.wait()
            problems.append("bulwarkd did not exit within %.0fs of SIGTERM "
                            "(killed)" % timeout)
        elif rc != 0:
            problems.append("bulwarkd exited with status %d" % rc)
        deadline = time.monotonic() + 5
        for w in sorted(self.known_workers):
            while (proc_state(w) not in (None, "Z") and
                   time.monotonic() < deadline):
                time.sleep(0.05)
            if proc_state(w) not in (None, "Z"):
                problems.append("worker %d still running after the master "
                                "exited (killed)" % w)
                try:
                    os.kill(w, signal.SIGKILL)
                except OSError:
                    pass
        self._err.close()
        self._out.close()
        text = self.stderr_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append("stderr has %r:\n%s" % (marker,
                                                        self.stderr_tail()))
                break
        else:
            stray = stray_stderr_lines(text)
            if stray:
                problems.append("stderr has lines outside the log:\n" +
                                "\n".join(stray[:5]))
        if problems:
            problems.append("stderr tail:\n" + self.stderr_tail())
        self.proc = None
        return problems

    def cleanup(self):
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop_and_check(self, testcase=None):
        problems = self.stop()
        if not problems:
            self.cleanup()
        else:
            raise AssertionError("\n".join(problems) +
                                 "\n(files kept in %s)" % self.dir)

    # -- inspection

    @property
    def pid(self):
        return self.proc.pid

    def keymgr_pids(self):
        """The key managers the master started (it always has one: the
        TLS key lives there), from its log."""
        pids = []
        for line in self.stderr_text().splitlines():
            try:
                msg = json.loads(line).get("message", "")
            except (ValueError, AttributeError):
                continue
            m = re.match(r"key manager started \(pid (\d+)\)", msg)
            if m:
                pids.append(int(m.group(1)))
        return pids

    def worker_pids(self):
        """The master's children but the key manager."""
        if self.proc is None:
            return []
        km = set(self.keymgr_pids())
        return [p for p in _read_children(self.proc.pid) if p not in km]

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as fp:
                return fp.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, n=40):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def stderr_size(self):
        try:
            return os.path.getsize(self.stderr_path)
        except OSError:
            return 0

    def access_lines(self):
        """Parsed access log lines (every line must be JSON)."""
        try:
            with open(self.access_path, "rb") as fp:
                raw = fp.read()
        except OSError:
            return []
        out = []
        for line in raw.splitlines():
            if line.strip():
                out.append(json.loads(line.decode("utf-8")))
        return out

    def access_raw(self):
        try:
            with open(self.access_path, "rb") as fp:
                return fp.read()
        except OSError:
            return b""

    def wait_access(self, pred, timeout=3.0):
        """The first access log entry matching pred (polls)."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.access_lines():
                if pred(e):
                    return e
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def admin(self, *args, stdin=b"", conf=None, timeout=60):
        """bulwarkd -c CONF ARGS (an administration command such as
        --add-user; CONF is this daemon's unless given) with stdin (bytes
        or text): (exit code, stdout, stderr) as text.  A sanitizer report
        on stderr fails the test."""
        if isinstance(stdin, str):
            stdin = stdin.encode("utf-8")
        p = subprocess.run([BULWARKD, "-c", conf or self.conf_path] +
                           list(args), input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=child_env(),
                           timeout=timeout)
        err = p.stderr.decode("utf-8", "replace")
        for marker in SANITIZER_MARKERS:
            if marker in err:
                raise AssertionError("sanitizer report:\n" + err)
        return p.returncode, p.stdout.decode("utf-8", "replace"), err

    def wait_served(self, attempt, rounds=None, timeout=20.0,
                    what="requests"):
        """Until attempt() (one request on a new connection, so that they
        spread over the workers) answers 200 ROUNDS times in a row (twice
        per worker unless given); returns the last response."""
        rounds = rounds or 2 * int(self.workers)
        deadline = time.monotonic() + timeout * SLOW
        ok = 0
        while ok < rounds:
            r = attempt()
            ok = ok + 1 if r.status == 200 else 0
            if ok == 0:
                if time.monotonic() > deadline:
                    raise AssertionError("%s not served (%r):\n%s" %
                                         (what, r, self.stderr_tail()))
                time.sleep(0.1)
        return r

    # -- client helpers

    def connect(self, **kw):
        return tls_connect(self.port, **kw)

    def request(self, method, path, headers=(), body=None, timeout=5.0,
                **kw):
        """One request on a new connection; returns the final response."""
        conn_kw = {k: kw.pop(k) for k in ("context", "server_hostname")
                   if k in kw}
        with self.connect(**conn_kw) as c:
            return c.roundtrip(method, path, headers, body, timeout, **kw)

    def send_raw(self, data, timeout=5.0, quiet=0.5):
        """Send bytes on a new connection; returns an Exchange."""
        return exchange(self.port, data, timeout=timeout, quiet=quiet)

    def worker_of(self, conn):
        """The worker pid holding conn's server side, or None."""
        return socket_owner(self.port, conn.sock.getsockname()[1],
                            self.worker_pids())


def gen_key(kind, path):
    """bulwarkd --gen-key KIND PATH (ed25519 or es256 for tokens, audit,
    backup); a failure fails the test."""
    p = subprocess.run([BULWARKD, "--gen-key", kind, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=child_env(), timeout=30)
    if p.returncode != 0:
        raise AssertionError("--gen-key %s: %s" %
                             (kind, p.stderr.decode("utf-8", "replace")))


def bearer(token):
    """The request headers that present an access token or API key."""
    return [("Authorization", "Bearer " + token)]


def socket_owner(server_port, client_port, pids):
    inode = None
    want_local = "0100007F:%04X" % server_port
    want_rem = "0100007F:%04X" % client_port
    try:
        with open("/proc/net/tcp") as fp:
            next(fp)
            for line in fp:
                f = line.split()
                if f[1] == want_local and f[2] == want_rem:
                    inode = f[9]
                    break
    except OSError:
        return None
    if inode is None or inode == "0":
        return None
    target = "socket:[%s]" % inode
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


# ---------------------------------------------------------------------------
# Raw exchanges


class Exchange:
    """What happened to one byte stream sent on a fresh connection."""

    def __init__(self):
        self.responses = []
        self.interim = []
        self.closed = False         # the peer closed (EOF or reset)
        self.reset = False
        self.hang = False           # no answer, no close before timeout
        self.error = None           # a ProtocolError text
        self.connect_error = None
        self.requests = []

    def statuses(self):
        return [r.status for r in self.responses]

    def __repr__(self):
        return ("<Exchange %s closed=%s reset=%s hang=%s error=%s>" %
                (["%d%s" % (r.status, "c" if r.closes() else "")
                  for r in self.responses],
                 self.closed, self.reset, self.hang, self.error))


def exchange(port, data, timeout=3.0, quiet=0.5, context=None):
    """Send data in one write, then read responses until the peer closes,
    timeout passes with no response at all (a hang), or quiet seconds pass
    without more after a response that keeps the connection."""
    ex = Exchange()
    reqs, _ = split_requests(data)
    ex.requests = reqs
    try:
        c = tls_connect(port, context=context, timeout=timeout)
    except (OSError, ssl.SSLError) as e:
        ex.connect_error = str(e)
        return ex
    with c:
        try:
            c.send(data)
        except (OSError, ssl.SSLError):
            pass
        deadline = time.monotonic() + timeout
        while True:
            i = len(ex.responses)
            head = i < len(reqs) and reqs[i].method == "HEAD"
            if ex.responses:
                last = ex.responses[-1]
                wait = quiet if not last.closes() else max(quiet, 1.0)
            else:
                wait = max(0.05, deadline - time.monotonic())
            try:
                r = c.read_response(timeout=wait, head=head)
            except Closed as e:
                ex.closed = True
                ex.reset = e.reset
                break
            except Timeout:
                if not ex.responses:
                    ex.hang = True
                break
            except ProtocolError as e:
                ex.error = str(e)
                ex.closed = c.eof
                break
            if r.status < 200:
                ex.interim.append(r)
                continue
            ex.responses.append(r)
            if len(ex.responses) > 64:
                ex.error = "too many responses"
                break
        if not ex.closed and not ex.hang and c.eof:
            ex.closed = True
    return ex
