#!/usr/bin/env python3
"""Runs the binding's unittest suite and prints TAP (one line per test case),
so meson and scripts/test_totals.py count every case. Exit status 1 if any
case failed or errored. Usage: tap.py [test-module-pattern]"""
import os
import sys
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self._failed_subtests = set()

    def _line(self, ok, test, note=""):
        self.n += 1
        name = test.id().replace("test_", "", 1) if hasattr(test, "id") else str(test)
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}{note}", flush=True)

    def _diag(self, err):
        for line in "".join(traceback.format_exception(*err)).splitlines():
            print("# " + line, flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag(err)

    def addSubTest(self, test, subtest, err):
        # A failing subtest fails its test: one "not ok" line per test (so
        # the plan's count holds), every failing subtest's detail below it.
        super().addSubTest(test, subtest, err)
        if err is None:
            return
        if test.id() not in self._failed_subtests:
            self._failed_subtests.add(test.id())
            self._line(False, test)
        print(f"# subtest {subtest._subDescription()}", flush=True)
        self._diag(err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success")


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    sys.path.insert(0, os.path.dirname(HERE))  # the package, uninstalled
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    count = suite.countTestCases()
    print(f"TAP version 13\n1..{count}", flush=True)
    result = TapResult()
    suite.run(result)
    if result.n != count:  # a module failed to import, or a case vanished
        print(f"# ran {result.n} of {count} cases", flush=True)
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print(f"# python {sys.version.split()[0]}: {result.n - bad} passed, {bad} failed",
          flush=True)
    return 1 if bad or result.n != count else 0


if __name__ == "__main__":
    sys.exit(main())
