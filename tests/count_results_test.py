#!/usr/bin/python3 -B
"""tests/count_results.py counts what Bazel's Build Event Protocol says ran in one
invocation, and nothing else: a target that did not build fails even when a passing test.xml
from an earlier run lies where bazel-testlogs points; failing targets cannot count as 0 failed;
`summary` counts each distinct test case once across stages.

The BEP files here are written the way Bazel 4.2.3 writes them (the event shapes were taken
from real `bazel test --build_event_json_file` runs: testResult, testSummary, targetCompleted
with and without `aborted`)."""

import json
import os
import subprocess
import tempfile
import unittest

WORKSPACE = os.environ.get('TEST_WORKSPACE', 'cellgw')


def runfile(relative):
    for root in (os.environ.get('RUNFILES_DIR'), os.environ.get('TEST_SRCDIR')):
        if root and os.path.exists(os.path.join(root, WORKSPACE, relative)):
            return os.path.join(root, WORKSPACE, relative)
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', relative)


COUNTER = runfile('tests/count_results.py')

GTEST_XML = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="{n}" failures="{failures}" name="AllTests">
  <testsuite name="Suite" tests="{n}" failures="{failures}">
{cases}
  </testsuite>
</testsuites>
"""


def gtest_xml(path, passed=(), failed=(), skipped=()):
    cases = []
    for name in passed:
        cases.append('    <testcase name="%s" status="run" result="completed" '
                     'classname="Suite" />' % name)
    for name in failed:
        cases.append('    <testcase name="%s" status="run" result="completed" '
                     'classname="Suite"><failure message="x" /></testcase>' % name)
    for name in skipped:
        cases.append('    <testcase name="%s" status="run" result="skipped" '
                     'classname="Suite"><skipped message="" /></testcase>' % name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(GTEST_XML.format(n=len(cases), failures=len(failed), cases='\n'.join(cases)))
    return path


class Bep:
    """Writes the events of one invocation."""

    def __init__(self, path):
        self.path = path
        self.events = []

    def test(self, label, status, xml=None, cached=False, attempt=1, shard=1, summary=None):
        result_id = {'label': label, 'run': 1, 'shard': shard, 'attempt': attempt}
        body = {'status': status}
        if xml:
            body['testActionOutput'] = [{'name': 'test.xml', 'uri': 'file://' + xml}]
        if cached:
            body['cachedLocally'] = True
        self.events.append({'id': {'testResult': result_id}, 'testResult': body})
        if summary is not False:
            self.events.append({'id': {'testSummary': {'label': label}},
                                'testSummary': {'overallStatus': summary or status}})

    def build_failed(self, label):
        self.events.append({'id': {'targetCompleted': {'label': label}},
                            'completed': {'failureDetail': {
                                'message': 'local spawn failed for CppCompile'}}})

    def analysis_failed(self, label):
        self.events.append({'id': {'targetCompleted': {'label': label}},
                            'aborted': {'reason': 'ANALYSIS_FAILURE'}})

    def write(self, truncate_last=False):
        lines = [json.dumps(e) for e in self.events]
        if truncate_last and lines:
            lines[-1] = lines[-1][:len(lines[-1]) // 2]
        with open(self.path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return self.path


class CounterTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
        self.records = os.path.join(self.dir, 'records.jsonl')
        self.bep = Bep(os.path.join(self.dir, 'bep.json'))

    def xml(self, name, **cases):
        return gtest_xml(os.path.join(self.dir, name, 'test.xml'), **cases)

    def count(self, *targets, stage='suite', extra=()):
        args = ['/usr/bin/python3', COUNTER, 'stage', '--stage', stage, '--bep',
                self.bep.write()]
        for what in extra:
            args += ['--extra-failure', what]
        env = dict(os.environ, CELLGW_RESULTS_FILE=self.records)
        done = subprocess.run(args + list(targets), capture_output=True, text=True,
                              cwd=self.dir, env=env)
        return done.returncode, done.stdout.splitlines()

    def test_passing_and_cached_targets_count_the_cases_of_the_xml_bazel_names(self):
        self.bep.test('//a:t', 'PASSED', self.xml('a', passed=['One', 'Two']))
        self.bep.test('//b:t', 'PASSED', self.xml('b', passed=['Three']), cached=True)
        rc, out = self.count('//a:t', '//b:t')
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[-1], '3 passed, 0 failed, 0 skipped')
        self.assertIn('suite: 2 test targets (2 passed, 0 failed, 0 did not build or run; '
                      '1 cached), 3 test cases', out)

    def test_target_that_no_longer_builds_fails_despite_a_stale_passing_xml(self):
        # Where bazel-testlogs would hold the earlier run's passing result.
        stale = self.xml('bazel-testlogs/b/t', passed=['Old1', 'Old2', 'Old3'])
        self.assertTrue(os.path.exists(stale))
        self.bep.test('//a:t', 'PASSED', self.xml('a', passed=['One']))
        self.bep.build_failed('//b:t')
        rc, out = self.count('//a:t', '//b:t')
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '1 passed, 1 failed, 0 skipped')
        self.assertTrue(any(line.startswith('FAILED: //b:t: did not build') for line in out), out)

    def test_target_that_failed_analysis_is_a_failure(self):
        self.bep.analysis_failed('//b:t')
        rc, out = self.count('//b:t')
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '0 passed, 1 failed, 0 skipped')
        self.assertTrue(any('ANALYSIS_FAILURE' in line for line in out), out)

    def test_target_missing_from_the_bep_is_a_failure(self):
        self.bep.test('//a:t', 'PASSED', self.xml('a', passed=['One']))
        rc, out = self.count('//a:t', '//never:ran')
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '1 passed, 1 failed, 0 skipped')
        self.assertIn('FAILED: //never:ran: no result in this invocation (1 test case(s) failed)',
                      out)

    def test_truncated_bep_counts_what_was_written_and_fails_the_rest(self):
        self.bep.test('//a:t', 'PASSED', self.xml('a', passed=['One']))
        self.bep.test('//b:t', 'PASSED', self.xml('b', passed=['Two']))
        self.bep.write(truncate_last=True)
        args = ['/usr/bin/python3', COUNTER, 'stage', '--stage', 'suite', '--bep',
                self.bep.path, '//a:t', '//b:t']
        done = subprocess.run(args, capture_output=True, text=True)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stdout.splitlines()[-1], '1 passed, 1 failed, 0 skipped')

    def test_failed_target_whose_cases_all_passed_still_counts_a_failure(self):
        # e.g. LeakSanitizer failing the process after GoogleTest wrote an all-passing xml.
        self.bep.test('//a:t', 'FAILED', self.xml('a', passed=['One', 'Two']))
        rc, out = self.count('//a:t')
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '2 passed, 1 failed, 0 skipped')

    def test_failing_cases_are_counted_each(self):
        self.bep.test('//a:t', 'FAILED', self.xml('a', passed=['One'], failed=['Two', 'Three']))
        rc, out = self.count('//a:t')
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '1 passed, 2 failed, 0 skipped')

    def test_timeout_without_xml_is_one_failure(self):
        self.bep.test('//a:t', 'TIMEOUT')
        rc, out = self.count('//a:t')
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '0 passed, 1 failed, 0 skipped')

    def test_skipped_cases_are_skipped(self):
        self.bep.test('//a:t', 'PASSED', self.xml('a', passed=['One'], skipped=['Two']))
        rc, out = self.count('//a:t')
        self.assertEqual(rc, 0)
        self.assertEqual(out[-1], '1 passed, 0 failed, 1 skipped')

    def test_flaky_target_counts_its_last_attempt(self):
        self.bep.test('//a:t', 'FAILED', self.xml('a1', passed=['One'], failed=['Two']),
                      summary=False)
        self.bep.test('//a:t', 'PASSED', self.xml('a2', passed=['One', 'Two']), attempt=2,
                      summary='FLAKY')
        rc, out = self.count('//a:t')
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[-1], '2 passed, 0 failed, 0 skipped')

    def test_shards_are_summed(self):
        self.bep.test('//a:t', 'PASSED', self.xml('s1', passed=['One']), shard=1, summary=False)
        self.bep.test('//a:t', 'PASSED', self.xml('s2', passed=['Two']), shard=2)
        rc, out = self.count('//a:t')
        self.assertEqual(out[-1], '2 passed, 0 failed, 0 skipped')

    def test_extra_failure_is_counted(self):
        self.bep.test('//a:t', 'PASSED', self.xml('a', passed=['One']))
        rc, out = self.count('//a:t', extra=['2 sanitizer report file(s)'])
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '1 passed, 1 failed, 0 skipped')


class SummaryTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))

    def write(self, name, records):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            for record in records:
                f.write(json.dumps(record) + '\n')
        return path

    @staticmethod
    def stage(name, cases, rc=0, targets=None):
        records = [{'kind': 'stage', 'stage': name, 'rc': rc, 'seconds': 7}]
        for label in targets if targets is not None else sorted({c[0] for c in cases}):
            records.append({'kind': 'target', 'stage': name, 'label': label, 'status': 'PASSED',
                            'cached': False})
        for label, case, outcome in cases:
            records.append({'kind': 'case', 'stage': name, 'label': label, 'case': case,
                            'outcome': outcome})
        return records

    def summary(self, *files):
        done = subprocess.run(['/usr/bin/python3', COUNTER, 'summary'] + list(files),
                              capture_output=True, text=True)
        return done.returncode, done.stdout.splitlines()

    def test_the_same_case_under_three_configurations_counts_once(self):
        cases = [('//a:t', 'S.One', 'passed'), ('//a:t', 'S.Two', 'passed')]
        files = [self.write(s, self.stage(s, cases)) for s in ('suite', 'asan', 'tsan')]
        rc, out = self.summary(*files)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[-1], '2 passed, 0 failed, 0 skipped')
        self.assertIn('total: 2 distinct test cases of 1 distinct targets', out[-2])
        self.assertIn('suite  1 test targets (0 failed, 0 cached), 2 test cases: 2 passed, '
                      '0 failed, 0 skipped, 7 s', out)

    def test_a_case_failing_under_one_configuration_is_failed(self):
        suite = self.write('suite', self.stage('suite', [('//a:t', 'S.One', 'passed')]))
        tsan = self.write('tsan', self.stage('tsan', [('//a:t', 'S.One', 'failed')], rc=3))
        rc, out = self.summary(suite, tsan)
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '0 passed, 1 failed, 0 skipped')

    def test_stage_failing_without_a_failed_case_adds_one_failure(self):
        suite = self.write('suite', self.stage('suite', [('//a:t', 'S.One', 'passed')]))
        broken = self.write('asan', self.stage('asan', [], rc=1))
        rc, out = self.summary(suite, broken)
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], '1 passed, 1 failed, 0 skipped')

    def test_skipped_in_one_configuration_and_passed_in_another_is_passed(self):
        suite = self.write('suite', self.stage('suite', [('//a:t', 'S.One', 'passed')]))
        asan = self.write('asan', self.stage('asan', [('//a:t', 'S.One', 'skipped')]))
        rc, out = self.summary(suite, asan)
        self.assertEqual(out[-1], '1 passed, 0 failed, 0 skipped')


if __name__ == '__main__':
    unittest.main()
