#!/usr/bin/env python3
"""
run.py - run bulwark's integration tests against a real bulwarkd.

    BULWARKD=build/bulwarkd SHAREDDIR=../shared python3 tests/integration/run.py [FILTER...]

Discovers every test_*.py in this folder (unittest), runs them with one
line per test on stderr and ends with exactly one summary line on stdout:

    integration: N passed, N failed, N skipped

Exit status 0 only when nothing failed or errored.  A FILTER selects the
tests whose module, class or method name equals it, or, when it holds a
dot, whose test id contains it (e.g. test_tls, TestHttp.test_404).  The process re-executes itself with
OPENSSL_CONF=/dev/null so that neither this client nor the daemon reads
the system openssl.cnf (SPEC 14).
"""

import os
import sys

if os.environ.get("OPENSSL_CONF") != "/dev/null":
    os.environ["OPENSSL_CONF"] = "/dev/null"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.dont_write_bytecode = True     # no __pycache__ in the source tree

import faulthandler  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# A wedged test must not wedge make check: dump every thread's stack and
# exit after this many seconds.
WATCHDOG = int(os.environ.get("BW_INTEG_WATCHDOG", "900"))


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def select(suite, filters):
    if not filters:
        return suite
    out = unittest.TestSuite()
    for t in iter_tests(suite):
        tid = t.id()
        parts = tid.split(".")
        for f in filters:
            if ("." in f and f in tid) or f in parts:
                out.addTest(t)
                break
    return out


class Result(unittest.TextTestResult):
    """Counts each test once: passed, failed (failure, error, unexpected
    success) or skipped.  Errors in class/module fixtures count as one
    failure each."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n_pass = 0
        self.n_fail = 0
        self.n_skip = 0
        self._t0 = {}

    def startTest(self, test):
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def _took(self, test):
        t0 = self._t0.pop(test.id(), None)
        if t0 is not None and self.showAll:
            self.stream.write("(%.1fs) " % (time.monotonic() - t0))

    def addSuccess(self, test):
        self._took(test)
        super().addSuccess(test)
        self.n_pass += 1

    def addFailure(self, test, err):
        self._took(test)
        super().addFailure(test, err)
        self.n_fail += 1

    def addError(self, test, err):
        self._took(test)
        super().addError(test, err)
        self.n_fail += 1

    def addSkip(self, test, reason):
        self._took(test)
        super().addSkip(test, reason)
        self.n_skip += 1

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.n_pass += 1

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.n_fail += 1


def main(argv):
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)
    if not os.environ.get("BULWARKD"):
        sys.stderr.write("run.py: BULWARKD is not set; every test that "
                         "needs the daemon is skipped\n")
    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    suite = select(suite, argv[1:])
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2,
                                     resultclass=Result)
    t0 = time.monotonic()
    result = runner.run(suite)
    sys.stderr.write("run.py: %.1fs\n" % (time.monotonic() - t0))
    sys.stderr.flush()
    sys.stdout.write("integration: %d passed, %d failed, %d skipped\n" %
                     (result.n_pass, result.n_fail, result.n_skip))
    sys.stdout.flush()
    return 0 if result.n_fail == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
