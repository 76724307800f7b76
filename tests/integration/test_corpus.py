"""
test_corpus.py - replay public malformed-request and smuggling corpora
over TLS to a running bulwarkd and score the answers against SPEC 5.

Corpora ($SHAREDDIR/testdata/http, see its SOURCES.txt):
  llhttp                the 134 strict "request" mode cases (ok / error)
  http-desync-guardian  every tier: Compliant, Acceptable, Ambiguous, Severe
  apache-httpd-strict   httpd's http_strict.t requests (strict column)

Transformations applied before sending (identical for every case):
  * llhttp raw/*.http lack the last line ending of their markdown block
    (the extractor drops one CRLF where the block ends with empty lines;
    llhttp's own logs show the parser consumed it): it is restored from
    md/*.md, and the llhttp log offsets are checked against the result.
  * A stream holding no complete head at all (llhttp stops reading at the
    first bad byte, so some cases end mid-line) gets CRLFs up to the end
    of the head, so that the verdict is about the bytes, not a timeout.
  * "Host: localhost" is inserted after the request line of every
    HTTP/1.x (x >= 1) head that has no Host line.
  * A head that declares a body (Content-Length > 0 or Transfer-Encoding)
    and has no Content-Type gets "Content-Type: application/json", so that
    the body is read and its framing judged (else 415 comes first).
  * The last request's body is completed when the corpus leaves it short:
    Content-Length bytes of JSON ("0" then spaces) or, for chunked, a
    chunk "0" and the last-chunk.  desync-guardian cases carry no body at
    all, so they always get one this way.

Scoring (one fresh TLS connection per case, the whole case in one write):
  rejected   the last answer is a SPEC 5 refusal (400 other than the body
             and parameter 400s, 414, 417, 431, 501, 505) and the daemon
             closes; or it closes without any answer; or it closes silently
             after serving the requests it could frame.
  accepted   every answer is something else (404, 405, 413, 415, 503...),
             every complete request is answered, and the connection stays
             open unless the request asked to close (HTTP/1.0, Connection:
             close) or the answer came before a declared body was read.
  hang       no answer and no close within the deadline: always a failure.

Expectations: llhttp error -> rejected, ok -> accepted; desync-guardian
Severe -> rejected, Ambiguous -> rejected or accepted with Connection:
close, Compliant -> accepted, Acceptable -> either; httpd -> its strict
expectation.  corpus-deviations lists every case where SPEC 5 decides
otherwise, with the rule.
"""

import base64
import concurrent.futures
import json
import os
import re
import sys
import unittest

import harness
from harness import Daemon, route

CORPUS = os.path.join(harness.SHAREDDIR, "testdata", "http")
DEVIATIONS = os.path.join(harness.HERE, "corpus-deviations")
PARALLEL = 24
QUIET = 0.5
MAX_FILL = 16 << 20     # no body is made up for a larger Content-Length

BODY_AFTER_READ = {200, 201, 202, 204, 409, 422, 500, 503, 504}
HEADER_REASONS = {
    "SuspiciousHeader", "BadTransferEncoding", "BadContentLength",
    "BadHeader", "EmptyHeader", "DuplicateContentLength",
    "MultipleContentLength", "MultipleTransferEncodingChunked",
    "BothTeClPresent", "UndefinedContentLengthSemantics",
    "UndefinedTransferEncodingSemantics",
}
_CLEAN_REQLINE = re.compile(rb"^[!-~]+ [!-~]+ HTTP/1\.[1-9]$")
_REQLINE = re.compile(rb"^[^ \r\n]+ [^ \r\n]+ [^ \r\n]+$")
_FIELD_OK = re.compile(
    rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*"
    rb"(?:[\x21-\x7e\x80-\xff](?:[ \t\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"
    rb"[ \t]*$")


# ---------------------------------------------------------------------------
# Loading


class Case:
    def __init__(self, source, cid, data, name, group):
        self.source = source
        self.id = cid
        self.raw = data
        self.name = name
        self.group = group          # tier / llhttp expect / httpd expect
        self.reason = None
        self.expect = None          # set of acceptable outcomes
        self.deviation = None
        self.data = None
        self.verdict = None

    @property
    def key(self):
        return "%s %d" % (self.source, self.id)


def md_trailing_lines(md_lines, md_line):
    """Number of empty lines that end the ```http block closing at
    md_line (1-based)."""
    i = md_line - 1
    j = i - 1
    while not md_lines[j].startswith("```"):
        j -= 1
    block = md_lines[j + 1:i]
    n = 0
    while block and block[-1] == "":
        block.pop()
        n += 1
    return n


def llhttp_log_max(md_lines, md_line):
    i = md_line
    while not md_lines[i].startswith("```log"):
        i += 1
    mx = 0
    for line in md_lines[i + 1:]:
        if line.startswith("```"):
            break
        m = re.match(r"off=(\d+)(?: len=(\d+))?", line)
        if m:
            mx = max(mx, int(m.group(1)) + int(m.group(2) or 0))
    return mx


def load_llhttp():
    d = os.path.join(CORPUS, "llhttp")
    out = []
    mds = {}
    with open(os.path.join(d, "index.jsonl")) as fp:
        for line in fp:
            r = json.loads(line)
            if r["llhttp_mode"] != "request":
                continue
            if r["file"] not in mds:
                with open(os.path.join(d, "md", r["file"]),
                          encoding="utf-8") as mf:
                    mds[r["file"]] = mf.read().split("\n")
            md = mds[r["file"]]
            raw = base64.b64decode(r["raw_b64"])
            trail = md_trailing_lines(md, r["md_line"])
            body = raw
            while body.endswith(b"\r\n"):
                body = body[:-2]
            data = body + b"\r\n" * trail
            if llhttp_log_max(md, r["md_line"]) > len(data):
                raise AssertionError("llhttp %d: cannot rebuild the input "
                                     "llhttp parsed" % r["id"])
            c = Case("llhttp", r["id"], data, r["name"], r["expect"])
            out.append(c)
    return out


def load_dg():
    out = []
    with open(os.path.join(CORPUS, "http-desync-guardian",
                           "rendered.jsonl")) as fp:
        for line in fp:
            r = json.loads(line)
            c = Case("dg", r["id"], base64.b64decode(r["raw_b64"]),
                     r["name"], r["tier"])
            c.reason = r["reason"]
            out.append(c)
    return out


def load_httpd():
    with open(os.path.join(CORPUS, "apache-httpd-strict",
                           "http_strict_cases.json")) as fp:
        doc = json.load(fp)
    out = []
    for r in doc["cases"]:
        cond = (r.get("condition") or "").strip()
        strict = cond if re.match(r"^\d+$", cond) else r["expect"]
        if cond == "undef":
            strict = "undef"
        c = Case("httpd", r["id"], base64.b64decode(r["raw_b64"]),
                 r["request_escaped"], strict)
        out.append(c)
    return out


def load_deviations():
    devs = {}
    one = r"(?:reject|accept|accept-close|serve|[1-5]\d\d)"
    pat = re.compile(r"^(llhttp|dg|httpd) (\d+) (%s(?:\|%s)*): "
                     r"(.+\(SPEC 5 [^)]+\))$" % (one, one))
    with open(DEVIATIONS) as fp:
        for n, line in enumerate(fp, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            m = pat.match(line)
            if not m:
                raise AssertionError("corpus-deviations:%d: malformed: %s" %
                                     (n, line))
            key = "%s %s" % (m.group(1), m.group(2))
            if key in devs:
                raise AssertionError("corpus-deviations:%d: %s listed twice"
                                     % (n, key))
            devs[key] = (tuple(m.group(3).split("|")), m.group(4), n)
    return devs


# ---------------------------------------------------------------------------
# Preparing a case for the wire


def json_body(n):
    return b"0" + b" " * (n - 1) if n > 0 else b""


def head_fields(head):
    lines = head.split(b"\r\n")
    return lines[0], lines[1:]


def prepare(data, drop_line=None):
    """Apply the documented transformations to a request stream."""
    if b"\r\n\r\n" not in data:
        data += b"\r\n" if data.endswith(b"\r\n") else b"\r\n\r\n"
    out = b""
    pos = 0
    first = True
    while pos < len(data):
        while data.startswith(b"\r\n", pos):
            out += b"\r\n"
            pos += 2
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        reqline, fields = head_fields(data[pos:end])
        if not _REQLINE.match(reqline):
            break
        if first and drop_line is not None:
            del fields[drop_line]
        first = False
        names = [f.split(b":", 1)[0].lower() for f in fields]
        clean = _CLEAN_REQLINE.match(reqline) is not None
        insert = []
        if clean and b"host" not in names:
            insert.append(b"Host: localhost")
        cl = None
        te = False
        for f in fields:
            n, sep, v = f.partition(b":")
            if not sep:
                continue
            v = v.strip(b" \t")
            if n.lower() == b"content-length" and v.isdigit():
                cl = int(v)
            elif n.lower() == b"transfer-encoding":
                te = True
        has_body = te or (cl is not None and cl > 0)
        if has_body and b"content-type" not in names:
            insert.append(b"Content-Type: application/json")
        head = b"\r\n".join([reqline] + insert + fields) + b"\r\n\r\n"
        out += head
        pos = end + 4
        rest = data[pos:]
        if te:
            framed = frame_chunked(rest)
            if framed is None:
                out += complete_chunked(rest)
                return out
            out += rest[:framed]
            pos += framed
        elif cl and cl > MAX_FILL:
            break
        elif cl:
            if len(rest) < cl:
                if rest:
                    out += rest + b" " * (cl - len(rest))
                else:
                    out += json_body(cl)
                return out
            out += rest[:cl]
            pos += cl
    out += data[pos:]
    return out


def frame_chunked(rest):
    """Length of a complete chunked body at the start of rest, or None."""
    p = 0
    while True:
        le = rest.find(b"\r\n", p)
        if le < 0:
            return None
        try:
            size = int(rest[p:le].split(b";")[0], 16)
        except ValueError:
            return None
        p = le + 2
        if size == 0:
            te = rest.find(b"\r\n\r\n", p - 2)
            return None if te < 0 else te + 4
        p += size + 2
        if p > len(rest):
            return None


def complete_chunked(rest):
    if rest == b"":
        return b"1\r\n0\r\n0\r\n\r\n"
    if rest.endswith(b"\r\n0\r\n") or rest == b"0\r\n":
        return rest + b"\r\n"
    if rest.endswith(b"\r\n0") or rest == b"0":
        return rest + b"\r\n\r\n"
    return rest


# ---------------------------------------------------------------------------
# Scoring


class Verdict:
    def __init__(self, ex):
        self.ex = ex
        self.problems = []
        self.kind = None
        self.statuses = ex.statuses()
        self.last_status = self.statuses[-1] if self.statuses else None
        self.last_closes = bool(ex.responses) and ex.responses[-1].closes()
        self.closed = ex.closed

    def __str__(self):
        s = "%s %s%s" % (self.kind, self.statuses,
                         " closed" if self.closed else " open")
        if self.ex.error:
            s += " error=%s" % self.ex.error
        if self.problems:
            s += " (%s)" % "; ".join(self.problems)
        return s


def is_refusal(r):
    if r.status not in harness.REJECT_STATUSES:
        return False
    if r.status == 400 and r.problem_detail() in harness.POST_FRAMING_400:
        return False
    return True


def after_body(r):
    """True when r is an answer given only after the body was read."""
    if r.status in BODY_AFTER_READ:
        return True
    return r.status == 400 and r.problem_detail() in (
        "the request body is not valid JSON",
        "the request body is nested too deeply")


def score(ex):
    v = Verdict(ex)
    if ex.connect_error:
        v.kind = "connect-error"
        v.problems.append(ex.connect_error)
        return v
    if ex.error:
        v.kind = "bad-response"
        return v
    if ex.hang:
        v.kind = "hang"
        return v
    rs = ex.responses
    reqs = ex.requests
    if not rs:
        v.kind = "reject"
        return v
    for i, r in enumerate(rs[:-1]):
        if is_refusal(r):
            v.problems.append("continued after refusing request %d" % i)
        if r.closes():
            v.problems.append("answered after announcing close")
    last = rs[-1]
    li = len(rs) - 1
    req = reqs[li] if li < len(reqs) else None
    if is_refusal(last):
        v.kind = "reject" if ex.closed else "reject-open"
        return v
    asked = req is not None and req.close
    if ex.closed and not last.closes() and not asked:
        v.kind = "reject"
        v.problems.append("closed silently after %d answer(s)" % len(rs))
        return v
    v.kind = "accept"
    if last.closes() and not ex.closed:
        v.problems.append("announced close but kept the connection")
    if asked and not ex.closed:
        v.problems.append("kept a connection the client asked to close")
    if last.closes() and not asked:
        early = req is not None and req.has_body and not after_body(last)
        if not early:
            v.problems.append("closed without a reason (status %d)" %
                              last.status)
    if not ex.closed:
        complete = sum(1 for q in reqs if q.complete)
        if len(rs) < complete:
            v.problems.append("answered %d of %d complete requests" %
                              (len(rs), complete))
    return v


def satisfies(v, expect):
    if expect == "reject":
        return v.kind == "reject"
    if expect == "accept":
        return v.kind == "accept" and not v.problems
    if expect == "accept-close":
        return (v.kind == "accept" and v.closed and v.last_closes and
                not [p for p in v.problems if "close" not in p])
    if expect == "serve":
        return v.kind == "accept" and not [
            p for p in v.problems if not p.startswith("closed without")]
    if re.match(r"^\d{3}$", expect):
        return (v.last_status == int(expect) and v.closed and
                v.kind == "reject")
    raise ValueError(expect)


def default_expect(c):
    if c.source == "llhttp":
        return ("reject",) if c.group == "error" else ("accept",)
    if c.source == "dg":
        return {"Severe": ("reject",), "Ambiguous": ("reject", "accept-close"),
                "Compliant": ("accept",),
                "Acceptable": ("reject", "serve")}[c.group]
    g = c.group
    if g in ("1", "200"):
        return ("accept",)
    if g in ("0", "undef", "90"):
        return ("reject",)
    if re.match(r"^[45]\d\d$", g):
        return (g,)
    raise ValueError("httpd %d: expectation %r" % (c.id, g))


def single_cause(reqline, fields):
    """SPEC 5's reason to refuse this head, as field line indexes: [i] when
    exactly one line is bad on its own, [i, j] when the only fault is two
    framing lines together (removing either cures it), [] when nothing is
    wrong with the fields, None when there are several independent faults.
    A simplified model of SPEC 5 Framing, only used to pick the lines to
    remove."""
    method = reqline.split(b" ", 1)[0]
    bad = []
    framing = []
    for i, f in enumerate(fields):
        if not _FIELD_OK.match(f) or re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", f):
            bad.append(i)
            continue
        name, _, value = f.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name == b"content-length":
            if not value.isdigit():
                bad.append(i)
            elif int(value) > 0 and method in (b"GET", b"HEAD", b"DELETE"):
                bad.append(i)
            else:
                framing.append(i)
        elif name == b"transfer-encoding":
            if value.lower() != b"chunked" or method in (b"GET", b"HEAD",
                                                          b"DELETE"):
                bad.append(i)
            else:
                framing.append(i)
    if len(bad) == 1 and len(framing) <= 1:
        return bad
    if not bad and len(framing) == 2:
        return framing
    if not bad and len(framing) < 2:
        return []
    return None


# ---------------------------------------------------------------------------
# Routes for every path in the corpora

_PATH_OK = re.compile(r"^/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:/|$))*$")


def corpus_paths(cases):
    paths = set()
    skipped = set()
    for c in cases:
        for m in re.finditer(rb"(?:^|\r\n)[A-Za-z-]+ ([^ \r\n]+) HTTP/",
                             c.data):
            t = m.group(1).decode("latin-1")
            am = re.match(r"^https?://[^/?#]*(.*)$", t)
            if am:
                t = am.group(1) or "/"
            t = re.split(r"[?#]", t)[0]
            if not t.startswith("/"):
                continue
            ok = (_PATH_OK.match(t) and (t == "/" or not t.endswith("/"))
                  and not re.search(r"(^|/)\.\.?(/|$)", t))
            (paths if ok else skipped).add(t)
    return sorted(paths), sorted(skipped)


def corpus_routes(paths):
    routes = []
    for i, p in enumerate(paths):
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            routes.append(route("c%03d_%s" % (i, m.lower()), m, p))
    return routes


# ---------------------------------------------------------------------------


def replay(port, data, deadline):
    return score(harness.exchange(port, data, timeout=deadline, quiet=QUIET))


class TestCorpus(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        harness.require_binary()
        if not os.path.isdir(CORPUS):
            raise unittest.SkipTest("corpus directory %s is absent" % CORPUS)
        cls.cases = load_llhttp() + load_dg() + load_httpd()
        cls.devs = load_deviations()
        for c in cls.cases:
            c.data = prepare(c.raw)
            dev = cls.devs.get(c.key)
            if dev:
                c.deviation = dev
                c.expect = dev[0]
            else:
                c.expect = default_expect(c)
        paths, skipped = corpus_paths(cls.cases)
        cls.skipped_paths = skipped
        sys.stderr.write("\ncorpus: %d cases, routes for %d paths; paths "
                         "the router cannot express (answered 404): %s\n" %
                         (len(cls.cases), len(paths),
                          " ".join(repr(p) for p in skipped)))
        cls.daemon = Daemon(
            routes=corpus_routes(paths), workers=2, name="corpus",
            config={"server": {"limits": {"max_body_size": "8MiB"}}})
        cls.daemon.start_or_stop()
        cls.deadline = 3.0 * harness.SLOW
        cls.run_all([(c, c.data) for c in cls.cases], "verdict")
        cls.removals = cls.header_removals()

    @classmethod
    def run_all(cls, jobs, attr):
        port = cls.daemon.port
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            futs = {pool.submit(replay, port, data, cls.deadline): (c, data)
                    for c, data in jobs}
            for f in concurrent.futures.as_completed(futs):
                c, data = futs[f]
                res = f.result()
                if attr == "verdict":
                    c.verdict = res
                else:
                    getattr(c, attr).append((data, res))

    @classmethod
    def header_removals(cls):
        """Header-driven Severe/Ambiguous cases that were rejected and whose
        refusal SPEC 5 pins on one line: replay without that line."""
        jobs = []
        for c in cls.cases:
            c.removed = []
            c.culprits = None
            c.several = False
            if (c.source != "dg" or c.group not in ("Severe", "Ambiguous")
                    or c.reason not in HEADER_REASONS or
                    c.verdict.kind != "reject"):
                continue
            head = c.raw.split(b"\r\n\r\n", 1)[0]
            reqline, fields = head_fields(head)
            if not _CLEAN_REQLINE.match(reqline):
                continue
            c.culprits = single_cause(reqline, fields)
            c.several = c.culprits is None
            for i in c.culprits or ():
                jobs.append((c, prepare(c.raw, drop_line=i)))
        cls.run_all(jobs, "removed")
        return [c for c in cls.cases if c.culprits is not None or
                getattr(c, "several", False)]

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None:
            cls.daemon.stop_and_check()

    # -- reporting

    def check(self, cases, label):
        fails = []
        for c in cases:
            if not any(satisfies(c.verdict, e) for e in c.expect):
                fails.append("%s [%s] %r: expected %s, got %s%s\n      sent %r" % (
                    c.key, c.group, c.name[:60], "/".join(c.expect),
                    c.verdict, " (deviation line %d)" % c.deviation[2]
                    if c.deviation else "", c.data[:300]))
        sys.stderr.write("\n  %-40s %3d pass %3d fail " %
                         (label, len(cases) - len(fails), len(fails)))
        if fails:
            self.fail("%d of %d %s cases not as SPEC 5 expects:\n  %s" %
                      (len(fails), len(cases), label, "\n  ".join(fails)))

    def select(self, source, group=None):
        return [c for c in self.cases if c.source == source and
                (group is None or c.group == group)]

    # -- tests

    def test_deviations_name_cases(self):
        keys = {c.key for c in self.cases}
        for key, (_, text, n) in self.devs.items():
            self.assertIn(key, keys, "corpus-deviations:%d names no case" % n)

    def test_llhttp_error_cases_rejected(self):
        self.check(self.select("llhttp", "error"), "llhttp strict error")

    def test_llhttp_ok_cases_accepted(self):
        self.check(self.select("llhttp", "ok"), "llhttp strict ok")

    def test_dg_severe_rejected(self):
        self.check(self.select("dg", "Severe"), "desync-guardian Severe")

    def test_dg_ambiguous_rejected_or_closed(self):
        self.check(self.select("dg", "Ambiguous"), "desync-guardian Ambiguous")

    def test_dg_compliant_accepted(self):
        self.check(self.select("dg", "Compliant"), "desync-guardian Compliant")

    def test_dg_acceptable_served_or_rejected(self):
        self.check(self.select("dg", "Acceptable"),
                   "desync-guardian Acceptable")

    def test_httpd_strict_agrees_with_spec(self):
        self.check(self.select("httpd"), "apache httpd strict")

    def test_rejected_header_line_removed_accepted(self):
        fails = []
        checked = [c for c in self.removals if c.culprits]
        for c in checked:
            if not any(satisfies(v, "serve") for _, v in c.removed):
                fails.append("%s [%s] %r: still refused without line(s) %s: "
                             "%s\n      sent %r" % (
                                 c.key, c.group, c.name[:60], c.culprits,
                                 "; ".join(str(v) for _, v in c.removed),
                                 c.removed[0][0][:300]))
        several = sum(1 for c in self.removals if c.several)
        other = len(self.removals) - len(checked) - several
        sys.stderr.write("\n  %-40s %3d pass %3d fail (not replayed: %d "
                         "with several faulty lines, %d refused for the "
                         "request line or version) " %
                         ("header line removed -> served",
                          len(checked) - len(fails), len(fails), several,
                          other))
        self.assertGreater(len(checked), 20)
        if fails:
            self.fail("\n  ".join(fails))

if __name__ == "__main__":
    unittest.main()
