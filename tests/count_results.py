#!/usr/bin/python3
"""Honest test counts for tests/run.sh and tests/sanitizers.sh.

  count_results.py stage --stage NAME --bep FILE [--extra-failure WHAT]... TARGET...
  count_results.py summary RECORDS_FILE...

`stage` counts one `bazel test` invocation from its Build Event Protocol file
(`--build_event_json_file`), never from what happens to lie in bazel-testlogs:

  * A target's status is Bazel's own (its testSummary event): PASSED, FLAKY (passed on a
    retry), FAILED, TIMEOUT, ... A target of TARGET... with no testSummary in this file did
    not build, failed analysis, or was never run: a failure ("did not build" / "no result").
  * Test cases come from the test.xml files that this invocation's testResult events name
    (GoogleTest writes one <testcase> per TEST; for other tests Bazel writes one case). A
    cached result is counted when Bazel reports it as cached in this invocation; a test.xml
    left behind by an earlier run is never read.
  * A target Bazel failed although no case in its test.xml failed (a crash or a sanitizer
    exit after the last case, a timeout) adds one failed case "[whole target]", so the count
    cannot say "0 failed" for a failing target.
  * --extra-failure adds a failure not tied to a test case (e.g. sanitizer reports).

It prints one FAILED line per failing target, a line "NAME: T test targets (...), C test
cases" and last "N passed, N failed, N skipped" (the test cases of this stage), and exits 1
when anything failed. With $CELLGW_RESULTS_FILE set it also appends one JSON record per
target and per test case to that file, for `summary`.

`summary` reads the records of every stage of tests/run.sh (the stages add records of kind
"stage" with their exit status and duration), prints a table per stage and a closing
"N passed, N failed, N skipped". The closing count is of DISTINCT test cases: the suite,
ASan and TSan stages run the same tests under three configurations, and a test case (a
target and case name) counts once, as failed if it failed under any configuration, else
passed if it passed under any, else skipped. A stage that exited non-zero without a failing
case (it broke before counting, or a sanitizer report) adds one failure of its own.
"""
import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

PASSED, FAILED, SKIPPED = 'passed', 'failed', 'skipped'
WHOLE_TARGET = '[whole target]'
# Target statuses (Bazel's BlazeTestStatus names) under which a target passed.
PASSING_STATUSES = ('PASSED', 'FLAKY')


def read_bep(path):
    """Returns (summaries, results, completions) from a BEP JSON file.

    summaries: label -> testSummary event body. results: label -> {(run, shard): (attempt,
    testResult body)}, the last attempt of each run and shard. completions: label -> the
    targetCompleted body (or {'aborted': ...}) when the target did not complete successfully.
    A missing or truncated file yields what could be read (missing targets then fail).
    """
    summaries, results, completions = {}, {}, {}
    try:
        lines = open(path, encoding='utf-8').read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short when Bazel died
        ids = event.get('id', {})
        if 'testSummary' in ids:
            summaries[ids['testSummary']['label']] = event.get('testSummary', {})
        elif 'testResult' in ids:
            key = ids['testResult']
            runs = results.setdefault(key['label'], {})
            run_shard = (key.get('run', 1), key.get('shard', 1))
            attempt = key.get('attempt', 1)
            if run_shard not in runs or runs[run_shard][0] < attempt:
                runs[run_shard] = (attempt, event.get('testResult', {}))
        elif 'targetCompleted' in ids:
            label = ids['targetCompleted']['label']
            if 'aborted' in event:
                completions[label] = {'aborted': event['aborted']}
            elif not event.get('completed', {}).get('success', False):
                completions[label] = event.get('completed', {})
    return summaries, results, completions


def uri_path(uri):
    if uri.startswith('file://'):
        return urllib.request.url2pathname(urllib.parse.urlparse(uri).path)
    return None


def cases_from_xml(path):
    """[(case name, outcome)] from a JUnit-style test.xml; None when it cannot be read."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    cases = []
    for case in root.iter('testcase'):
        name = case.get('name', '')
        if case.get('classname'):
            name = case.get('classname') + '.' + name
        if case.find('failure') is not None or case.find('error') is not None:
            outcome = FAILED
        elif (case.find('skipped') is not None or case.get('status') == 'notrun' or
              case.get('result') in ('skipped', 'suppressed')):
            outcome = SKIPPED
        else:
            outcome = PASSED
        cases.append((name, outcome))
    return cases


def describe_incomplete(completion):
    if 'aborted' in completion:
        aborted = completion['aborted']
        why = aborted.get('reason', 'ABORTED')
        if aborted.get('description'):
            why += ': ' + aborted['description']
        return 'did not build (%s)' % why
    detail = completion.get('failureDetail', {}).get('message')
    return 'did not build' + (' (%s)' % detail if detail else '')


def target_outcome(label, summaries, results, completions):
    """(status, cached, [(case, outcome)], why) for one target of this invocation."""
    if label not in summaries:
        if label in completions:
            return 'FAILED_TO_BUILD', False, [(WHOLE_TARGET, FAILED)], describe_incomplete(
                completions[label])
        return 'NO_RESULT', False, [(WHOLE_TARGET, FAILED)], 'no result in this invocation'
    status = summaries[label].get('overallStatus', 'NO_STATUS')
    runs = results.get(label, {})
    cached = bool(runs) and all(
        body.get('cachedLocally') or body.get('executionInfo', {}).get('cachedRemotely')
        for _, body in runs.values())
    cases = []
    for _, body in runs.values():
        xml = None
        for output in body.get('testActionOutput', []):
            if output.get('name') == 'test.xml':
                xml = uri_path(output.get('uri', ''))
        run_cases = cases_from_xml(xml) if xml else None
        if run_cases is None or not run_cases:
            run_passed = body.get('status') in PASSING_STATUSES
            run_cases = [(WHOLE_TARGET, PASSED if run_passed else FAILED)]
        cases.extend(run_cases)
    if not cases:
        cases = [(WHOLE_TARGET, PASSED if status in PASSING_STATUSES else FAILED)]
    why = ''
    any_failed = any(outcome == FAILED for _, outcome in cases)
    if status not in PASSING_STATUSES:
        why = status
        if not any_failed:
            cases.append((WHOLE_TARGET, FAILED))
    elif any_failed:
        why = 'a test case failed although Bazel reported ' + status
        status = 'FAILED'
    return status, cached, cases, why


def count_cases(records):
    counts = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    for record in records:
        counts[record['outcome']] += 1
    return counts


def counts_line(counts):
    return '%d passed, %d failed, %d skipped' % (counts[PASSED], counts[FAILED], counts[SKIPPED])


def append_records(records):
    path = os.environ.get('CELLGW_RESULTS_FILE')
    if not path:
        return
    with open(path, 'a', encoding='utf-8') as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + '\n')


def stage_main(args):
    summaries, results, completions = read_bep(args.bep)
    labels = list(dict.fromkeys(args.targets))
    # A test that ran is counted even if the caller did not name it (a test_suite expanded).
    labels += sorted(label for label in summaries if label not in labels)
    target_records, case_records = [], []
    for label in labels:
        status, cached, cases, why = target_outcome(label, summaries, results, completions)
        target_records.append({'kind': 'target', 'stage': args.stage, 'label': label,
                               'status': status, 'cached': cached})
        failed = sum(1 for _, outcome in cases if outcome == FAILED)
        if failed:
            print('FAILED: %s: %s (%d test case(s) failed)' % (label, why or status, failed))
        for case, outcome in cases:
            case_records.append({'kind': 'case', 'stage': args.stage, 'label': label,
                                 'case': case, 'outcome': outcome})
    for what in args.extra_failure:
        print('FAILED: %s' % what)
        case_records.append({'kind': 'case', 'stage': args.stage, 'label': args.stage,
                             'case': what, 'outcome': FAILED})
    append_records(target_records + case_records)
    passing = sum(1 for r in target_records if r['status'] in PASSING_STATUSES)
    not_built = sum(1 for r in target_records if r['status'] in ('FAILED_TO_BUILD', 'NO_RESULT'))
    cached = sum(1 for r in target_records if r['cached'])
    counts = count_cases(case_records)
    print('%s: %d test targets (%d passed, %d failed, %d did not build or run; %d cached), '
          '%d test cases' % (args.stage, len(target_records), passing,
                             len(target_records) - passing - not_built, not_built, cached,
                             len(case_records)))
    print(counts_line(counts))
    return 0 if counts[FAILED] == 0 else 1


def read_records(paths):
    records = []
    for path in paths:
        try:
            with open(path, encoding='utf-8') as lines:
                records.extend(json.loads(line) for line in lines if line.strip())
        except OSError:
            pass
    return records


def merge_outcomes(outcomes):
    if FAILED in outcomes:
        return FAILED
    return PASSED if PASSED in outcomes else SKIPPED


def summary_main(args):
    records = read_records(args.files)
    stages = [r for r in records if r['kind'] == 'stage']
    cases = [r for r in records if r['kind'] == 'case']
    # A stage that failed without a failing case of its own still fails the run, once.
    for stage in stages:
        stage_cases = [c for c in cases if c['stage'] == stage['stage']]
        if stage['rc'] != 0 and not any(c['outcome'] == FAILED for c in stage_cases):
            cases.append({'kind': 'case', 'stage': stage['stage'], 'label': stage['stage'],
                          'case': 'stage exited with status %d' % stage['rc'],
                          'outcome': FAILED})
    for stage in stages:
        name = stage['stage']
        targets = [r for r in records if r['kind'] == 'target' and r['stage'] == name]
        stage_cases = [c for c in cases if c['stage'] == name]
        counts = count_cases(stage_cases)
        print('%-6s %d test targets (%d failed, %d cached), %d test cases: %s, %d s' % (
            name, len(targets), sum(1 for t in targets if t['status'] not in PASSING_STATUSES),
            sum(1 for t in targets if t['cached']), len(stage_cases), counts_line(counts),
            stage['seconds']))
    merged = {}
    for case in cases:
        merged.setdefault((case['label'], case['case']), []).append(case['outcome'])
    distinct = {key: merge_outcomes(outcomes) for key, outcomes in merged.items()}
    labels = {label for label, _ in distinct}
    counts = count_cases({'outcome': outcome} for outcome in distinct.values())
    print('total: %d distinct test cases of %d distinct targets; a case run under several '
          'configurations counts once, failed if it failed under any' % (len(distinct),
                                                                        len(labels)))
    print(counts_line(counts))
    return 0 if counts[FAILED] == 0 else 1


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    stage = commands.add_parser('stage', help='count one bazel test invocation')
    stage.add_argument('--stage', required=True, help='stage name (suite, asan, tsan)')
    stage.add_argument('--bep', required=True, help='its --build_event_json_file')
    stage.add_argument('--extra-failure', action='append', default=[],
                       help='a failure not tied to a test case')
    stage.add_argument('targets', nargs='*', help='every test target the invocation was given')
    summary = commands.add_parser('summary', help='the closing count of tests/run.sh')
    summary.add_argument('files', nargs='+', help='records files ($CELLGW_RESULTS_FILE)')
    args = parser.parse_args(argv)
    return stage_main(args) if args.command == 'stage' else summary_main(args)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
