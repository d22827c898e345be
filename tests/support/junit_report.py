"""Runs a unittest TestCase the way the project's Python tests run under Bazel.

unittest's report goes to stdout; when Bazel sets $XML_OUTPUT_FILE, one JUnit <testcase> per
test method goes there too, so the suite's count (tests/count_results.py) sees each test
instead of Bazel's single case for an sh_test. A test whose subtests failed counts once, as
failed; a class-level error ("setUpClass (...)") is a test case of its own.

A test that Bazel stops at its timeout still says where it was: the report is line-buffered
(each test's line is in test.log as it finishes, with its seconds), and Bazel's SIGTERM or
a crash (an abort in a native library) first dumps every thread's stack to stderr.
"""
import faulthandler
import os
import signal
import sys
import time
import unittest
import xml.etree.ElementTree as ET


class RecordingResult(unittest.TextTestResult):
    """A TextTestResult that also keeps each test's worst outcome and time for the XML."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}   # test id -> (outcome, detail, seconds), in order of running
        self._started = {}

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        super().startTest(test)

    def _record(self, test, outcome, detail=''):
        started = self._started.get(test.id())
        seconds = time.monotonic() - started if started is not None else 0.0
        previous = self.outcomes.get(test.id())
        if previous is None or previous[0] == 'passed':   # a failure is never overwritten
            self.outcomes[test.id()] = (outcome, detail, seconds)

    def stopTest(self, test):
        super().stopTest(test)
        started = self._started.get(test.id())
        if started is not None and self.showAll:
            self.stream.writeln('  (%.1f s)' % (time.monotonic() - started))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, 'passed')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, 'failure', self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, 'error', self.errors[-1][1])

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = self.failures if issubclass(err[0], test.failureException) else self.errors
            self._record(test, 'failure', failed[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, 'skipped', reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, 'passed')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, 'failure', 'unexpected success')


def write_junit(outcomes, suite_name, class_name, path):
    suite = ET.Element('testsuite', name=suite_name)
    counts = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
    for test_id, (outcome, detail, seconds) in outcomes.items():
        if '(' in test_id:   # a class-level error, e.g. "setUpClass (__main__.SomeTest)"
            classname, name = class_name, test_id
        else:
            classname, _, name = test_id.rpartition('.')
        case = ET.SubElement(suite, 'testcase', name=name, classname=classname,
                             time='%.3f' % seconds)
        counts['tests'] += 1
        if outcome != 'passed':
            counts[{'failure': 'failures', 'error': 'errors', 'skipped': 'skipped'}[outcome]] += 1
            ET.SubElement(case, outcome, message=detail.strip().split('\n')[-1][:200]).text = detail
    for key, value in counts.items():
        suite.set(key, str(value))
    root = ET.Element('testsuites')
    root.append(suite)
    ET.ElementTree(root).write(path, encoding='UTF-8', xml_declaration=True)


def run(test_case_class, suite_name):
    """Runs every test of `test_case_class`; returns the exit status (0 when all passed)."""
    # Redirected to a file, stdout would be block-buffered and lost when Bazel kills the
    # test at its timeout: exactly the run whose report matters most.
    sys.stdout.reconfigure(line_buffering=True)
    faulthandler.enable(file=sys.stderr, all_threads=True)   # and when it crashes
    faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=True, chain=True)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(test_case_class)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=RecordingResult)
    result = runner.run(suite)
    xml_path = os.environ.get('XML_OUTPUT_FILE')
    if xml_path:
        write_junit(result.outcomes, suite_name, test_case_class.__name__, xml_path)
    return 0 if result.wasSuccessful() else 1
