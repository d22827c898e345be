#!/usr/bin/python3 -B
"""The report of tests/bench/run_bench.py, from a results.jsonl written here (no broker, no
gateway): per-call CPU microseconds and context switches beside calls/s and the ratio, the
pinned pair and its ratio, and issue 12's targets printed once each, with PASS/MISS. Also
pin_process, on a child process with several threads."""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

WORKSPACE = os.environ.get('TEST_WORKSPACE', 'cellgw')


def runfile(relative):
    for root in (os.environ.get('RUNFILES_DIR'), os.environ.get('TEST_SRCDIR')):
        if root and os.path.exists(os.path.join(root, WORKSPACE, relative)):
            return os.path.join(root, WORKSPACE, relative)
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', relative)


sys.path.insert(0, os.path.dirname(runfile('tests/bench/run_bench.py')))
import run_bench  # noqa: E402


def run(setup, level, calls_per_s, p50, cpu_us, switches, seconds=5.0, lost=None,
        **extra):
    """One load tool's JSON line: `cpu_us` and `switches` are per call, by role."""
    calls = int(calls_per_s * seconds)
    result = {
        'setup': setup, 'level': level, 'calls': calls, 'seconds': seconds,
        'calls_per_s': calls_per_s,
        'latency_us': {'count': calls, 'mean': p50, 'p50': p50, 'p90': p50,
                       'p99': 2 * p50, 'max': 3 * p50},
        'errors': {},
        'cpu_s': {k: v * calls / 1e6 for k, v in cpu_us.items()},
        'ctxt_switches': {k: v * calls for k, v in switches.items()},
        'ctxt_threads_lost': lost or {},
        'mem_kb': {},
    }
    result['cpu_s']['machine'] = sum(result['cpu_s'].values())
    result.update(extra)
    return result


def results(native_64=12000.0, gw_cast_64=20000.0, native_p50=300):
    gw = {'gateway': 50, 'broker': 60, 'server': 15, 'client': 30}
    cs = {'gateway': 0.5, 'broker': 1.5, 'server': 0.2, 'client': 0.3}
    raw = {'broker': 60, 'server': 15, 'client': 15}
    runs = [
        run('raw', 1, 5000, 180, raw, {'broker': 2.0}),
        run('native', 1, 3000, native_p50, gw, cs),
        run('raw', 64, 20000, 3000, raw, {'broker': 0.4}),
        run('native', 64, native_64, 5000, gw, cs, lost={'gateway': 2}),
        run('raw_cast', 64, 30000, 2000, raw, {'broker': 0.3}),
        run('gw_cast', 64, gw_cast_64, 3000, gw, cs),
        run('raw_cast', 1, 3000, 300, raw, {}),
        run('gw_cast', 1, 1500, 600, gw, cs),
        run('pinned_1', 64, 6000, 9000, gw, {'gateway': 0.25},
            pinned_cpus=[0], pinned_threads=9, pinned_mismatch=0),
        run('pinned_2', 64, 9000, 6000, gw, {'gateway': 0.5},
            pinned_cpus=[0, 1], pinned_threads=9, pinned_mismatch=0),
    ]
    rss = run('rss', 10000, 5000, 900000, gw, cs)
    rss['mem_kb'] = {'gateway': {'rss': 200 * 1024, 'hwm': 210 * 1024}}
    runs.append(rss)
    meta = {'setup': 'meta', 'level': 0, 'loadavg': '0.1 0.1 0.1',
            'idle_start': {'rss': 18 * 1024, 'hwm': 19 * 1024},
            'idle_end': {'rss': 30 * 1024, 'hwm': 210 * 1024}, 'cpus': 2,
            'levels': '1,64', 'payload_bytes': 256, 'warmup_s': 1, 'duration_s': 5,
            'repeats': 1, 'smoke': False, 'gateway_log_level': 'warning',
            'no_taskset': False}
    return runs + [meta]


def report(records):
    with tempfile.TemporaryDirectory() as out:
        with open(os.path.join(out, 'results.jsonl'), 'w') as f:
            for record in records:
                f.write(json.dumps(record) + '\n')
        printed = io.StringIO()
        with redirect_stdout(printed):
            # No matplotlib in the test's sandbox is fine: the plot is skipped.
            code = run_bench.main(['--report-only', '--out', out])
        assert code == 0, code
        return printed.getvalue()


def row(text, first_cells):
    """The table row of `text` that starts with `first_cells`."""
    prefix = '| ' + ' | '.join(first_cells) + ' |'
    rows = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, (prefix, rows)
    return [cell.strip() for cell in rows[0].strip('|').split('|')]


class ReportTest(unittest.TestCase):

    def test_per_call_row_has_gateway_and_broker_cpu_and_switches_beside_the_ratio(self):
        text = report(results())
        cells = row(text, ['64', 'native'])
        # in flight, setup, calls/s, vs raw, gw/broker/server/client CPU us, total,
        # gw/broker/server/client cs, other
        self.assertEqual(cells[2:9], ['12000', '0.60', '50', '60', '15', '30', '155'])
        self.assertEqual(cells[9], '0.50*')   # the gateway lost threads in the window
        self.assertEqual(cells[10:13], ['1.50', '0.20', '0.30'])
        self.assertIn('lower bound', text)
        cast = row(text, ['64', 'gw_cast'])
        self.assertEqual(cast[3], '0.67')     # against raw_cast, not raw
        raw = row(text, ['64', 'raw'])
        self.assertEqual(raw[4], 'n/a')       # raw has no gateway

    def test_pinned_pair_and_its_ratio(self):
        text = report(results())
        one = row(text, ['0'])
        two = row(text, ['0,1'])
        self.assertEqual(one[1], '6000')
        self.assertEqual(one[4], '50')        # gateway CPU us per call
        self.assertEqual(one[6], '0.25')      # gateway switches per call
        self.assertEqual(two[1], '9000')
        self.assertIn('Two cores / one core: 1.50x calls/s.', text)

    def test_targets_of_issue_12_once_each(self):
        text = report(results())
        self.assertEqual(text.count('### Targets'), 1)
        self.assertIn('### Targets of issue 12', text)
        self.assertNotIn('0.7 x', text)
        self.assertNotIn('15 x oslo', text)
        targets = text[text.index('### Targets of issue 12'):]
        lines = [l for l in targets.splitlines() if l.endswith(('PASS |', 'MISS |'))]
        self.assertEqual(len(lines), 5, lines)
        self.assertIn('>= 0.6 x raw | 12000 / 20000 = 0.60', lines[0])
        self.assertTrue(lines[0].endswith('PASS |'))
        self.assertIn('300 us vs 180 + 150 us', lines[1])
        self.assertTrue(lines[1].endswith('PASS |'))
        self.assertIn('window of 64 | 20000 / 30000 = 0.67', lines[2])
        self.assertTrue(lines[2].endswith('PASS |'))
        self.assertIn('18.0 MB', lines[3])
        self.assertIn('10000 calls in flight < 256 MB | 210.0 MB', lines[4])

    def test_targets_miss_below_the_thresholds(self):
        text = report(results(native_64=11000, gw_cast_64=16000, native_p50=331))
        targets = text[text.index('### Targets of issue 12'):].splitlines()
        misses = [l for l in targets if l.endswith('MISS |')]
        self.assertEqual(len(misses), 3, misses)

    def test_runs_saved_before_context_switches_still_report(self):
        old = results()
        for record in old:
            record.pop('ctxt_switches', None)
            record.pop('ctxt_threads_lost', None)
            record.pop('no_taskset', None)
        text = report(old)
        self.assertEqual(row(text, ['64', 'native'])[9], 'n/a')


class PinProcessTest(unittest.TestCase):

    def test_every_thread_of_the_process_is_pinned(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest('needs two CPUs to see a pinning change anything')
        # A child with four threads that tells when they all run, then waits for its stdin to
        # close (so it ends when we close it, and we need not guess when it is ready).
        child = subprocess.Popen(
            [sys.executable, '-c',
             'import sys, threading\n'
             'ts = [threading.Thread(target=sys.stdin.read) for _ in range(3)]\n'
             '[t.start() for t in ts]\n'
             'print("ready", flush=True)\n'
             'sys.stdin.read()\n'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(child.stdout.readline().strip(), b'ready')
            applied = run_bench.pin_process(child.pid, {0})
            self.assertGreaterEqual(len(applied), 4)
            self.assertEqual(set(map(tuple, applied.values())), {(0,)})
            applied = run_bench.pin_process(child.pid, {0, 1})
            self.assertEqual(set(map(tuple, applied.values())), {(0, 1)})
        finally:
            child.stdin.close()
            child.wait(30)
            child.stdout.close()


if __name__ == '__main__':
    unittest.main()
