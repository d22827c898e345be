#!/usr/bin/python3
"""Counts test cases from Bazel's test.xml files and prints 'N passed, N failed'.

Usage: count_results.py //pkg:target...   (the targets of this run)

GoogleTest writes one <testcase> per TEST into test.xml; other tests (sh_test) get the file
Bazel writes, with one case. A target with no test.xml (it did not build, or timed out
before writing one) counts as one failure, so nothing that did not pass is hidden.
"""
import os
import sys
import xml.etree.ElementTree as ET


def testlog_dir(target):
    package, _, name = target.lstrip('/').partition(':')
    return os.path.join('bazel-testlogs', package, name)


def count(target):
    path = os.path.join(testlog_dir(target), 'test.xml')
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 1, 0
    passed = failed = skipped = 0
    cases = root.iter('testcase')
    for case in cases:
        if case.find('failure') is not None or case.find('error') is not None:
            failed += 1
        elif case.find('skipped') is not None or case.get('status') == 'notrun':
            skipped += 1
        else:
            passed += 1
    if passed + failed + skipped == 0:
        # A test that ran nothing: Bazel's own summary decides.
        failed = 1 if root.find('.//failure') is not None else 0
        passed = 1 - failed
    return passed, failed, skipped


def main(targets):
    totals = [0, 0, 0]
    for target in targets:
        p, f, s = count(target)
        totals[0] += p
        totals[1] += f
        totals[2] += s
        if f:
            print('FAILED: %s (%d failed)' % (target, f))
    line = '%d passed, %d failed' % (totals[0], totals[1])
    if totals[2]:
        line += ', %d skipped' % totals[2]
    print(line)
    return 0 if totals[1] == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
