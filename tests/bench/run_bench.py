#!/usr/bin/python3
"""The side-by-side benchmark of cellgw (issue 6), run by tests/bench/run_bench.sh.

Part of tests/bench. On one machine, in one run, against one private RabbitMQ
node (tests/support/rabbitmq_node.py), with the same payload at each
concurrency level, it measures:

  raw     raw_probe client -> raw_probe server (rabbitmq-c, no gateway, no JSON)
  native  cellgw-bench -> cellgw -> native echo_server (C++, bridge-based)
  gw_oslo cellgw-bench -> cellgw -> real oslo.messaging server (oslo_server.py)
  py_oslo oslo_load.py (real oslo.messaging client) -> the same oslo server
  casts with publisher confirms: cellgw-bench cast vs raw_probe --mode=publish
  native calls at 64 in flight with the gateway pinned to CPU 0 and to CPUs
  0-1 (issue 12, item 4; --no-taskset skips it),
  fanout through cellgw (for information), and the gateway's memory: RSS idle,
  and RSS / peak RSS with --inflight-rss (10,000) calls in flight.

Every load tool reports CPU seconds and context switches (every thread) of the
gateway, the broker (its whole process group), the server and itself over
exactly its measured window; the report prints them per call beside calls/s
and the ratio to raw, and checks issue 12's targets.

Output (in --out, default ./bench-out): results.jsonl (one line per run),
report.md (the markdown tables, also printed on stdout), bench.png (throughput
and p99 against concurrency; needs python3-matplotlib).

--smoke runs every step with tiny counts (for CI: it checks that the
benchmark works, not how fast it is) and fails when any step saw errors.
Every process started here is stopped by PID on exit, also on SIGINT/SIGTERM.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(os.path.dirname(HERE), 'support')
sys.path.insert(0, SUPPORT)

import rabbitmq_node  # noqa: E402

PYTHON = '/usr/bin/python3'
EXCHANGE = 'openstack'
TOPIC_NATIVE = 'bench_native'
TOPIC_OSLO = 'bench_oslo'
TOPIC_RAW = 'bench_raw'
READY_TIMEOUT_S = 60
# Every load tool also reports the busy time of the whole machine over its window, so the
# report can show how much CPU processes outside the benchmark took (other engineers' jobs,
# say): the figures are only comparable when that stays near zero.
MACHINE = ',machine=machine'


def pin_process(pid, cpus):
    """Pins every thread of `pid` to the CPUs in `cpus`, as `taskset -a -p`.

    A thread inherits the affinity of the thread that starts it, so once every
    existing thread is pinned, threads the process starts later are pinned
    too. A thread started during a pass by one not yet pinned may be missed
    by that pass's listing, so passes repeat until one finds no thread it has
    not pinned. Returns {tid: sorted CPUs read back}, for the report to show
    what the kernel actually applied.
    """
    pinned = set()
    while True:
        tids = set(int(t) for t in os.listdir('/proc/%d/task' % pid))
        new = tids - pinned
        if not new:
            break
        for tid in new:
            try:
                os.sched_setaffinity(tid, cpus)
            except ProcessLookupError:   # exited since the listing
                pass
            pinned.add(tid)
    applied = {}
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            applied[int(tid)] = sorted(os.sched_getaffinity(int(tid)))
        except ProcessLookupError:
            pass
    return applied


def per_call(result, key, name):
    """`name`'s CPU microseconds (key 'cpu_s') or context switches (key
    'ctxt_switches') per successful call of `result`; None when not measured
    (an older results.jsonl has no ctxt_switches) or nothing succeeded."""
    if not result or not result['calls'] or name not in result.get(key, {}):
        return None
    scale = 1e6 if key == 'cpu_s' else 1.0
    return result[key][name] * scale / result['calls']


def fmt(value, pattern):
    return 'n/a' if value is None else pattern % value


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def memory_kb(pid):
    """{'rss': VmRSS, 'hwm': VmHWM} of `pid` in kB."""
    sample = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            if key == 'VmRSS':
                sample['rss'] = int(value.split()[0])
            elif key == 'VmHWM':
                sample['hwm'] = int(value.split()[0])
    return sample


class Service(object):
    """A long-running process of the benchmark, stopped by PID.

    With `ready`, waits for a {"event": "ready"} line on its stdout; its
    stdout is then drained by a thread for as long as it runs (the oslo server
    prints a line per call and would block on a full pipe otherwise).
    """

    def __init__(self, name, argv, log_dir, ready=True, env=None):
        self.name = name
        self.log_path = os.path.join(log_dir, name + '.log')
        self._log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if ready else self._log,
            stderr=self._log, env=env)
        self.pid = self.proc.pid
        self.lines = []
        if not ready:
            return
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._ready.wait(READY_TIMEOUT_S) or self.proc.poll() is not None:
            self.stop()
            raise BenchError('%s did not become ready; see %s' % (
                name, self.log_path))

    def _drain(self):
        for raw in self.proc.stdout:
            if self._ready.is_set():
                if raw.startswith(b'{"event": "stopped"'):
                    self.lines.append(raw.decode('utf-8', 'replace'))
                continue
            self.lines.append(raw.decode('utf-8', 'replace'))
            try:
                if json.loads(raw).get('event') == 'ready':
                    self._ready.set()
            except ValueError:
                pass
        self._ready.set()   # EOF: the process is gone; start-up reports it

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Bench(object):
    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.out = os.path.abspath(args.out)
        os.makedirs(self.out, exist_ok=True)
        self.workdir = tempfile.mkdtemp(
            prefix='cellgw-bench-',
            dir=os.environ.get('TEST_TMPDIR') or None)
        self.node = None
        self.services = []
        self.results = []
        self.results_path = os.path.join(self.out, 'results.jsonl')
        if args.report_only:
            self.load()
        else:
            open(self.results_path, 'w').close()

    # -- processes -----------------------------------------------------------

    def start(self, name, argv, ready=True):
        service = Service(name, argv, self.workdir, ready=ready)
        self.services.append(service)
        return service

    def stop_all(self):
        problems = []
        for service in reversed(self.services):
            code = service.stop()
            if code not in (0, -signal.SIGTERM):
                problems.append('%s exited %s (log %s)' % (
                    service.name, code, service.log_path))
        self.services = []
        if self.node is not None:
            self.node.stop()
            self.node = None
        return problems

    # -- one measured run ------------------------------------------------------

    def window_flags(self, python=False):
        if self.smoke:
            return ['--count=%d' % self.args.smoke_count]
        if python:
            return ['--warmup-s=%g' % self.args.warmup_s,
                    '--duration-s=%g' % self.args.duration_s]
        return ['--warmup_s=%g' % self.args.warmup_s,
                '--duration_s=%g' % self.args.duration_s]

    def run_tool(self, setup, level, argv, timeout, extra=None):
        sys.stderr.write('  %-8s c=%-5d ' % (setup, level))
        sys.stderr.flush()
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError('%s at %d in flight did not finish in %ds' % (
                setup, level, timeout))
        err = done.stderr.decode('utf-8', 'replace').strip()
        sys.stderr.write((err.splitlines() or ['(no output)'])[-1] + '\n')
        if done.returncode != 0:
            raise BenchError('%s at %d in flight failed (exit %d): %s' % (
                setup, level, done.returncode, err[-2000:]))
        lines = done.stdout.decode('utf-8', 'replace').strip().splitlines()
        result = json.loads(lines[-1])
        result['setup'] = setup
        result['level'] = level
        result.update(extra or {})
        self.results.append(result)
        with open(self.results_path, 'a') as f:
            f.write(json.dumps(result, sort_keys=True) + '\n')
        if self.smoke and (result['errors'] or result['calls'] == 0):
            raise BenchError('%s at %d in flight: %d calls, errors %r' % (
                setup, level, result['calls'], result['errors']))
        return result

    def timeout_for(self, level):
        if self.smoke:
            return 120
        return int(self.args.warmup_s + self.args.duration_s + 90 +
                   level / 50)

    def bench_argv(self, kind, topic, level, watch, extra=()):
        return [self.args.bench, '--target=127.0.0.1:%d' % self.gateway_port,
                '--kind=' + kind, '--topic=' + topic,
                '--concurrency=%d' % level,
                '--payload_bytes=%d' % self.args.payload_bytes,
                '--watch=' + watch + MACHINE, '--wait_connected_s=60'] + \
            self.window_flags() + list(extra)

    # -- the run -----------------------------------------------------------------

    def run(self):
        args = self.args
        with open('/proc/loadavg') as f:
            self.loadavg = ' '.join(f.read().split()[:3])
        sys.stderr.write('cellgw benchmark: workdir %s, results in %s, load '
                         'average %s\n' % (self.workdir, self.out,
                                           self.loadavg))
        self.node = rabbitmq_node.PrivateRabbitMQ(
            os.path.join(self.workdir, 'rabbitmq'))
        self.node.start()
        url = self.node.url()
        broker = 'broker=pg:%d' % self.node.pid
        sys.stderr.write('broker %s up on port %d\n' % (
            self.node.node, self.node.amqp_port))

        echo = self.start('echo_server', [
            args.echo_server, '--url=' + url, '--topic=' + TOPIC_NATIVE,
            '--server=echo1', '--exchange=' + EXCHANGE])
        raw_server = self.start('raw_server', [
            args.raw_probe, '--mode=server', '--url=' + url,
            '--topic=' + TOPIC_RAW, '--exchange=' + EXCHANGE])
        oslo = self.start('oslo_server', [
            PYTHON, os.path.join(SUPPORT, 'oslo_server.py'), '--url', url,
            '--topic', TOPIC_OSLO, '--server', 'oslo1',
            '--exchange', EXCHANGE])

        self.gateway_port = free_port()
        config = os.path.join(self.workdir, 'cellgw.yaml')
        with open(config, 'w') as f:
            # The tools put every slot on one connection (--channels=1), up to
            # --inflight-rss calls at once: above the default max_concurrent_streams.
            f.write('listen: 127.0.0.1:%d\n'
                    'log_level: %s\n'
                    'shutdown_grace_period: 5\n'
                    'max_concurrent_streams: 1000000\n'
                    'cells:\n'
                    '  - name: bench\n'
                    '    transport_url: %s\n'
                    '    control_exchange: %s\n' % (
                        self.gateway_port, args.gateway_log_level, url,
                        EXCHANGE))
        gateway = self.start('cellgw', [args.cellgw, '--config', config],
                             ready=False)
        gw = 'gateway=%d' % gateway.pid

        # The gateway is up once a call goes through; "idle" RSS is taken
        # then, with its connection, reply queue and gRPC server running.
        self.run_tool('warmup', 1, self.bench_argv(
            'call', TOPIC_NATIVE, 1, gw, ['--count=20', '--warmup_s=0']),
            self.timeout_for(1))
        self.idle_start = memory_kb(gateway.pid)

        levels = [int(x) for x in args.levels.split(',')]
        for repeat in range(args.repeats):
            if args.repeats > 1:
                sys.stderr.write('== repeat %d of %d\n' % (repeat + 1,
                                                        args.repeats))
            self.measure_levels(levels, url, broker, gw, echo, raw_server, oslo)
            if not args.no_taskset:
                self.measure_pinned(gateway.pid, broker, gw, echo)

        sys.stderr.write('fanout and memory:\n')
        fanout_level = 64 if not self.smoke else 8
        self.run_tool('gw_fanout', fanout_level, self.bench_argv(
            'fanout', TOPIC_NATIVE, fanout_level,
            '%s,%s,server=%d,client=self' % (gw, broker, echo.pid)),
            self.timeout_for(fanout_level))
        inflight = args.inflight_rss if not self.smoke else 200
        # Duration mode even in smoke: the memory is read at the end of the
        # window, while every slot still has its call in flight.
        self.run_tool('rss', inflight, self.bench_argv(
            'call', TOPIC_NATIVE, inflight, gw,
            ['--warmup_s=%g' % (3 if not self.smoke else 0.5),
             '--duration_s=%g' % (3 if not self.smoke else 0.5),
             '--count=0', '--timeout_s=60']), self.timeout_for(inflight))
        self.idle_end = memory_kb(gateway.pid)
        self.save_meta()

        problems = self.stop_all()
        for service in (echo, oslo):
            sys.stderr.write('%s: %s' % (service.name, ''.join(
                l for l in service.lines if '"stopped"' in l) or 'no stats\n'))
        if problems:
            raise BenchError('; '.join(problems))

    def measure_levels(self, levels, url, broker, gw, echo, raw_server, oslo):
        """One pass over every level: calls in the four setups, then casts."""
        args = self.args
        for level in levels:
            sys.stderr.write('calls, %d in flight:\n' % level)
            self.run_tool('raw', level, [
                args.raw_probe, '--mode=client', '--url=' + url,
                '--topic=' + TOPIC_RAW, '--exchange=' + EXCHANGE,
                '--concurrency=%d' % level,
                '--payload_bytes=%d' % args.payload_bytes,
                '--watch=client=self,server=%d,%s%s' % (
                    raw_server.pid, broker, MACHINE)]
                + self.window_flags(), self.timeout_for(level))
            self.run_tool('native', level, self.bench_argv(
                'call', TOPIC_NATIVE, level,
                '%s,%s,server=%d,client=self' % (gw, broker, echo.pid)),
                self.timeout_for(level))
            # The same calls through bridge::RpcBridge in the probe's own
            # process: cellgw without gRPC and without the gateway process.
            self.run_tool('bridge', level, [
                args.bridge_probe, '--url=' + url, '--exchange=' + EXCHANGE,
                '--topic=' + TOPIC_NATIVE, '--concurrency=%d' % level,
                '--payload_bytes=%d' % args.payload_bytes,
                '--watch=client=self,server=%d,%s%s' % (
                    echo.pid, broker, MACHINE)]
                + self.window_flags(), self.timeout_for(level))
            # A gRPC round trip through the gateway that touches no broker:
            # the floor under every call at this level.
            self.run_tool('grpc_floor', level, self.bench_argv(
                'list_cells', TOPIC_NATIVE, level,
                '%s,%s,client=self' % (gw, broker)),
                self.timeout_for(level))
            self.run_tool('gw_oslo', level, self.bench_argv(
                'call', TOPIC_OSLO, level,
                '%s,%s,server=%d,client=self' % (gw, broker, oslo.pid)),
                self.timeout_for(level))
            self.run_tool('py_oslo', level, [
                PYTHON, os.path.join(HERE, 'oslo_load.py'), '--url', url,
                '--topic', TOPIC_OSLO, '--exchange', EXCHANGE,
                '--concurrency', str(level),
                '--payload-bytes', str(args.payload_bytes),
                '--watch', '%s,server=%d,client=self%s' % (
                    broker, oslo.pid, MACHINE)]
                + self.window_flags(python=True), self.timeout_for(level))
        for level in levels:
            sys.stderr.write('casts with publisher confirms, %d in flight:\n'
                             % level)
            self.run_tool('raw_cast', level, [
                args.raw_probe, '--mode=publish', '--url=' + url,
                '--topic=' + TOPIC_NATIVE, '--exchange=' + EXCHANGE,
                '--concurrency=%d' % level,
                '--payload_bytes=%d' % args.payload_bytes,
                '--watch=client=self,server=%d,%s%s' % (
                    echo.pid, broker, MACHINE)]
                + self.window_flags(), self.timeout_for(level))
            self.run_tool('gw_cast', level, self.bench_argv(
                'cast', TOPIC_NATIVE, level,
                '%s,%s,server=%d,client=self' % (gw, broker, echo.pid)),
                self.timeout_for(level))

    # Issue 12, item 4: does the gateway use a second core? The same native
    # calls as the main table, with the gateway's threads pinned to CPU 0 and
    # then to CPUs 0-1; the broker, echo server and load tool stay free.
    PINNINGS = (('pinned_1', {0}), ('pinned_2', {0, 1}))

    def pin_level(self):
        return 64 if not self.smoke else 8

    def measure_pinned(self, gateway_pid, broker, gw, echo):
        if (os.cpu_count() or 1) < 2:
            sys.stderr.write('gateway pinned to one and two cores: skipped, '
                             'this machine has one CPU\n')
            return
        level = self.pin_level()
        sys.stderr.write('calls, %d in flight, gateway pinned (taskset):\n'
                         % level)
        original = os.sched_getaffinity(gateway_pid)
        try:
            for setup, cpus in self.PINNINGS:
                applied = pin_process(gateway_pid, cpus)
                # What the kernel applied, read back after the pinning: every
                # thread should show exactly `cpus`.
                self.run_tool(setup, level, self.bench_argv(
                    'call', TOPIC_NATIVE, level,
                    '%s,%s,server=%d,client=self' % (gw, broker, echo.pid)),
                    self.timeout_for(level), extra={
                        'pinned_cpus': sorted(cpus),
                        'pinned_threads': len(applied),
                        'pinned_mismatch': sum(
                            1 for got in applied.values()
                            if got != sorted(cpus))})
        finally:
            # The later steps (fanout, memory) run with the gateway unpinned.
            pin_process(gateway_pid, original)

    # -- saved runs ---------------------------------------------------------------

    META_KEYS = ('levels', 'payload_bytes', 'warmup_s', 'duration_s', 'repeats',
                 'smoke', 'gateway_log_level', 'no_taskset')

    def save_meta(self):
        """Appends what the report needs besides the runs, for --report-only."""
        meta = {'setup': 'meta', 'level': 0, 'loadavg': self.loadavg,
                'idle_start': self.idle_start, 'idle_end': self.idle_end,
                'cpus': os.cpu_count()}
        meta.update({k: getattr(self.args, k) for k in self.META_KEYS})
        with open(self.results_path, 'a') as f:
            f.write(json.dumps(meta, sort_keys=True) + '\n')

    def load(self):
        """Reads a finished run's results.jsonl (--report-only)."""
        with open(self.results_path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        metas = [r for r in records if r.get('setup') == 'meta']
        if not metas:
            raise BenchError('%s holds no finished run' % self.results_path)
        meta = metas[-1]
        for key in self.META_KEYS:
            # no_taskset is missing from runs saved before it existed.
            setattr(self.args, key, meta.get(key, False))
        self.smoke = meta['smoke']
        self.loadavg = meta['loadavg']
        self.idle_start = meta['idle_start']
        self.idle_end = meta['idle_end']
        self.cpu_count = meta['cpus']
        self.results = [r for r in records if r.get('setup') != 'meta']

    # -- report ------------------------------------------------------------------

    def find(self, setup, level):
        """The run of `setup` at `level`; with --repeats, the median by calls/s."""
        runs = sorted((r for r in self.results
                       if r['setup'] == setup and r['level'] == level),
                      key=lambda r: r['calls_per_s'])
        return runs[(len(runs) - 1) // 2] if runs else None

    def cpus(self):
        return getattr(self, 'cpu_count', None) or os.cpu_count()

    def projected(self, result):
        """calls/s if CPU were the only limit: cores / CPU seconds per call."""
        if not result or not result['calls']:
            return 0.0
        used = sum(v for k, v in result['cpu_s'].items() if k != 'machine')
        return self.cpus() * result['calls'] / used if used > 0 else 0.0

    @staticmethod
    def other_cores(result):
        cpu = result.get('cpu_s', {})
        if 'machine' not in cpu or result['seconds'] <= 0:
            return 0.0
        ours = sum(v for k, v in cpu.items() if k != 'machine')
        return max(0.0, cpu['machine'] - ours) / result['seconds']

    def report(self):
        levels = [int(x) for x in self.args.levels.split(',')]
        lines = []
        out = lines.append

        def rate(r):
            return r['calls_per_s'] if r else 0.0

        def ratio(a, b):
            return '%.2f' % (rate(a) / rate(b)) if rate(b) > 0 else 'n/a'

        def lat(r, key):
            return '%.0f' % r['latency_us'][key] if r else 'n/a'

        out('## cellgw benchmark: payload %d B, %s' % (
            self.args.payload_bytes,
            'SMOKE (tiny counts: not a measurement)' if self.smoke else
            'window %gs after %gs warm-up per point%s' % (
                self.args.duration_s, self.args.warmup_s,
                ', median of %d interleaved repeats' % self.args.repeats
                if self.args.repeats > 1 else '')))
        out('')
        noisy = [r for r in self.results if self.other_cores(r) > 0.25]
        out('Machine: %d CPUs, load average %s at the start.%s' % (
            os.cpu_count(), self.loadavg,
            ' **Noisy: %d of %d runs had more than 0.25 cores taken by other '
            'processes; compare with care.**' % (len(noisy), len(self.results))
            if noisy else ' Other processes stayed below 0.25 cores in every '
            'run.'))
        out('')
        out('raw = rabbitmq-c client/server (ceiling); native = cellgw -> '
            'C++ echo server; gw->oslo = cellgw -> oslo.messaging server; '
            'py->oslo = oslo.messaging Python client -> the same server; '
            'gRPC floor = ListCells through the gateway, which touches no '
            'broker: what gRPC alone costs the gateway and the client; '
            'bridge = the native calls made through bridge::RpcBridge inside '
            'the load tool, without gRPC (its CPU is under "client").')
        out('')
        out('### Calls/s')
        out('')
        out('| in flight | raw | native | native/raw | gw->oslo | py->oslo '
            '| native/py | gw->oslo / py->oslo | gRPC floor | bridge |')
        out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
        for level in levels:
            raw, nat = self.find('raw', level), self.find('native', level)
            gwo, pyo = self.find('gw_oslo', level), self.find('py_oslo', level)
            out('| %d | %.0f | %.0f | %s | %.0f | %.0f | %s | %s | %.0f | %.0f |'
                % (level, rate(raw), rate(nat), ratio(nat, raw), rate(gwo),
                   rate(pyo), ratio(nat, pyo), ratio(gwo, pyo),
                   rate(self.find('grpc_floor', level)),
                   rate(self.find('bridge', level))))
        out('')
        out('### Latency, microseconds (p50 / p90 / p99 / max)')
        out('')
        out('| in flight | raw | native | native p50 - raw p50 | bridge '
            '| gRPC floor | gw->oslo | py->oslo |')
        out('|---:|---:|---:|---:|---:|---:|---:|---:|')
        for level in levels:
            cells = []
            for setup in ('raw', 'native'):
                r = self.find(setup, level)
                cells.append(' / '.join(lat(r, k) for k in
                                        ('p50', 'p90', 'p99', 'max')))
            raw, nat = self.find('raw', level), self.find('native', level)
            diff = ('%+.0f' % (nat['latency_us']['p50'] -
                               raw['latency_us']['p50'])
                    if raw and nat else 'n/a')
            others = []
            for setup in ('bridge', 'grpc_floor', 'gw_oslo', 'py_oslo'):
                r = self.find(setup, level)
                others.append(' / '.join(lat(r, k) for k in
                                         ('p50', 'p90', 'p99', 'max')))
            out('| %d | %s | %s | %s | %s | %s | %s | %s |' % (
                level, cells[0], cells[1], diff, *others))
        out('')
        out('### Per call: CPU microseconds and context switches')
        out('')
        out('CPU us (utime + stime) and context switches (voluntary + '
            'nonvoluntary, summed over every thread) per successful call, of '
            'the gateway (gw), the broker (its whole process group), the '
            'server and the load tool (client), over the measured window. '
            '"vs raw" is calls/s against raw at the same level (casts: '
            'against the raw confirmed publisher). "other" is CPU taken by '
            'processes outside the benchmark during the window, in cores (of '
            '%d): near 0 on a quiet machine.' % self.cpus())
        lost = False
        out('')
        out('| in flight | setup | calls/s | vs raw | gw CPU us | broker CPU us '
            '| server CPU us | client CPU us | total CPU us | gw cs | broker '
            'cs | server cs | client cs | other |')
        out('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
            '---:|---:|')
        for level in levels:
            for setup in self.PER_CALL_SETUPS:
                r = self.find(setup, level)
                if not r or not r['calls']:
                    continue
                ref = self.find('raw_cast' if 'cast' in setup else 'raw',
                                level)
                cpu = [per_call(r, 'cpu_s', k) for k in self.ROLES]
                cs = []
                for k in self.ROLES:
                    text = fmt(per_call(r, 'ctxt_switches', k), '%.2f')
                    if r.get('ctxt_threads_lost', {}).get(k):
                        text += '*'
                        lost = True
                    cs.append(text)
                out('| %d | %s | %.0f | %s | %s | %.0f | %s | %.2f |' % (
                    level, setup, rate(r), ratio(r, ref),
                    ' | '.join(fmt(v, '%.0f') for v in cpu),
                    sum(v for v in cpu if v is not None), ' | '.join(cs),
                    self.other_cores(r)))
        if lost:
            out('')
            out('\\* some threads of that process exited during the window: '
                'what they did after its start is lost, so the figure is a '
                'lower bound.')
        out('')
        out('### Casts/s with publisher confirms')
        out('')
        out('| in flight | raw publisher | cellgw cast | cellgw/raw | '
            'raw p50 us | cellgw p50 us | cellgw p99 us |')
        out('|---:|---:|---:|---:|---:|---:|---:|')
        for level in levels:
            raw, gwc = self.find('raw_cast', level), self.find('gw_cast',
                                                               level)
            out('| %d | %.0f | %.0f | %s | %s | %s | %s |' % (
                level, rate(raw), rate(gwc), ratio(gwc, raw),
                lat(raw, 'p50'), lat(gwc, 'p50'), lat(gwc, 'p99')))
        out('')
        out('### CPU-bound projection (robust to other load on the machine)')
        out('')
        out('What each setup would do if it were limited only by the CPU its '
            'own processes use per call: %d cores / (CPU seconds per call of '
            'gateway + broker + server + client). Other processes on the '
            'machine inflate measured calls/s differences but barely change '
            'CPU per call.' % self.cpus())
        out('')
        out('| in flight | raw | native | native/raw | py->oslo | native/py '
            '| raw cast | cellgw cast | cast ratio |')
        out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
        for level in levels:
            p = {s: self.projected(self.find(s, level)) for s in
                 ('raw', 'native', 'py_oslo', 'raw_cast', 'gw_cast')}

            def pr(a, b):
                return '%.2f' % (p[a] / p[b]) if p[b] else 'n/a'
            out('| %d | %.0f | %.0f | %s | %.0f | %s | %.0f | %.0f | %s |' % (
                level, p['raw'], p['native'], pr('native', 'raw'),
                p['py_oslo'], pr('native', 'py_oslo'), p['raw_cast'],
                p['gw_cast'], pr('gw_cast', 'raw_cast')))
        self.report_pinned(out)
        fan = next((r for r in self.results if r['setup'] == 'gw_fanout'),
                   None)
        if fan:
            out('')
            out('Fanout through cellgw at %d in flight: %.0f/s, p50 %s us, '
                'p99 %s us.' % (fan['level'], rate(fan), lat(fan, 'p50'),
                               lat(fan, 'p99')))
        rss = next((r for r in self.results if r['setup'] == 'rss'), None)
        out('')
        out('### Gateway memory')
        out('')
        out('| state | RSS MB | peak RSS (VmHWM) MB |')
        out('|---|---:|---:|')
        out('| idle, after the first call | %.1f | %.1f |' % (
            self.idle_start['rss'] / 1024.0, self.idle_start['hwm'] / 1024.0))
        if rss and 'gateway' in rss.get('mem_kb', {}):
            m = rss['mem_kb']['gateway']
            out('| %d calls in flight (%.0f calls/s, %s errors) | %.1f | %.1f '
                '|' % (rss['level'], rate(rss), sum(rss['errors'].values()),
                       m['rss'] / 1024.0, m['hwm'] / 1024.0))
        out('| idle, after the whole run | %.1f | %.1f |' % (
            self.idle_end['rss'] / 1024.0, self.idle_end['hwm'] / 1024.0))

        out('')
        out('### Targets of issue 12')
        out('')
        out('| target | measured | |')
        out('|---|---|---|')
        for text, measured, ok in self.targets(levels, rss):
            out('| %s | %s | %s |' % (text, measured,
                                      'PASS' if ok else 'MISS'))
        return '\n'.join(lines) + '\n'

    ROLES = ('gateway', 'broker', 'server', 'client')
    PER_CALL_SETUPS = ('raw', 'native', 'bridge', 'grpc_floor', 'gw_oslo',
                       'py_oslo', 'raw_cast', 'gw_cast')

    def report_pinned(self, out):
        """Issue 12, item 4: the native calls with the gateway pinned to one
        core and to two, and the ratio between them."""
        runs = [(setup, cpus, self.find(setup, self.pin_level()))
                for setup, cpus in self.PINNINGS]
        if not any(r for _, _, r in runs):
            return
        out('')
        out('### Gateway pinned to one core and to two (taskset)')
        out('')
        out('cellgw -> native echo server at %d in flight, every thread of the '
            'gateway pinned with sched_setaffinity (as `taskset -a -p`); the '
            'broker, the echo server and the load tool are not pinned. "gw '
            'cores busy" is the gateway\'s CPU time over the window\'s length: '
            'near the number of its cores means the gateway is what limits.'
            % self.pin_level())
        out('')
        out('| gateway on CPUs | calls/s | p50 us | p99 us | gw CPU us | gw '
            'cores busy | gw cs | broker CPU us | other |')
        out('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for setup, cpus, r in runs:
            if not r:
                continue
            note = ''
            if r.get('pinned_mismatch'):
                note = ' (%d of %d threads not as asked)' % (
                    r['pinned_mismatch'], r['pinned_threads'])
            busy = (r['cpu_s'].get('gateway', 0.0) / r['seconds']
                    if r['seconds'] > 0 else 0.0)
            out('| %s%s | %.0f | %.0f | %.0f | %s | %.2f | %s | %s | %.2f |'
                % (','.join(map(str, sorted(cpus))), note, r['calls_per_s'],
                   r['latency_us']['p50'], r['latency_us']['p99'],
                   fmt(per_call(r, 'cpu_s', 'gateway'), '%.0f'), busy,
                   fmt(per_call(r, 'ctxt_switches', 'gateway'), '%.2f'),
                   fmt(per_call(r, 'cpu_s', 'broker'), '%.0f'),
                   self.other_cores(r)))
        one, two = runs[0][2], runs[1][2]
        if one and two and one['calls_per_s'] > 0:
            out('')
            out('Two cores / one core: %.2fx calls/s.' % (
                two['calls_per_s'] / one['calls_per_s']))

    def targets(self, levels, rss):
        """Issue 12's targets, each (text, measured, met)."""
        checks = []

        def rate(setup, level):
            r = self.find(setup, level)
            return r['calls_per_s'] if r else 0.0

        def projected_ratio(a, b, level):
            pa = self.projected(self.find(a, level))
            pb = self.projected(self.find(b, level))
            return '; CPU-projected %.2f' % (pa / pb) if pb else ''
        if 64 in levels:
            nat, raw = rate('native', 64), rate('raw', 64)
            checks.append(('calls through cellgw to the native echo server '
                           'at 64 in flight >= 0.6 x raw',
                           '%.0f / %.0f = %.2f%s' % (
                               nat, raw, nat / raw if raw else 0,
                               projected_ratio('native', 'raw', 64)),
                           raw > 0 and nat >= 0.6 * raw))
        if 1 in levels:
            nat, raw = self.find('native', 1), self.find('raw', 1)
            if nat and raw:
                a, b = nat['latency_us']['p50'], raw['latency_us']['p50']
                floor = self.find('grpc_floor', 1)
                via_bridge = self.find('bridge', 1)
                parts = []
                if via_bridge:
                    parts.append('bridge without gRPC %d us' %
                                 via_bridge['latency_us']['p50'])
                if floor:
                    parts.append('gRPC floor alone %d us' %
                                 floor['latency_us']['p50'])
                checks.append(('sequential call p50 <= raw p50 + 150 us',
                               '%d us vs %d + 150 us%s' % (
                                   a, b, ''.join('; ' + p for p in parts)),
                               a <= b + 150))
        # The raw publisher keeps as many unconfirmed publishes in flight as
        # the level (raw_probe --mode=publish --concurrency), so at 64 it is
        # the publisher with a window of 64 the issue names.
        for level in (64,) if 64 in levels else levels[-1:]:
            gwc, raw = rate('gw_cast', level), rate('raw_cast', level)
            checks.append(('confirmed casts at %d in flight >= 0.55 x raw '
                           'confirmed publisher with a window of %d'
                           % (level, level),
                           '%.0f / %.0f = %.2f%s' % (
                               gwc, raw, gwc / raw if raw else 0,
                               projected_ratio('gw_cast', 'raw_cast', level)),
                           raw > 0 and gwc >= 0.55 * raw))
        checks.append(('gateway RSS idle < 64 MB',
                       '%.1f MB' % (self.idle_start['rss'] / 1024.0),
                       self.idle_start['rss'] < 64 * 1024))
        if rss and 'gateway' in rss.get('mem_kb', {}):
            peak = rss['mem_kb']['gateway']['hwm']
            checks.append(('gateway peak RSS with %d calls in flight < 256 MB'
                           % rss['level'], '%.1f MB' % (peak / 1024.0),
                           peak < 256 * 1024))
        return checks

    def plot(self):
        try:
            import matplotlib
            matplotlib.use('Agg')
            import matplotlib.pyplot as plt
        except ImportError:
            sys.stderr.write('no matplotlib: plot skipped (apt-get install '
                             'python3-matplotlib)\n')
            return None
        levels = [int(x) for x in self.args.levels.split(',')]
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
        series = [('raw', 'raw rabbitmq-c (ceiling)'),
                  ('native', 'cellgw -> native echo server'),
                  ('gw_oslo', 'cellgw -> oslo.messaging server'),
                  ('py_oslo', 'oslo.messaging client -> oslo server'),
                  ('raw_cast', 'raw confirmed publisher (casts)'),
                  ('gw_cast', 'cellgw casts (confirmed)')]
        for setup, label in series:
            points = [(lv, self.find(setup, lv)) for lv in levels]
            points = [(lv, r) for lv, r in points if r and r['calls']]
            if not points:
                continue
            style = '--' if 'cast' in setup else '-'
            left.plot([lv for lv, _ in points],
                      [r['calls_per_s'] for _, r in points], style,
                      marker='o', label=label)
            right.plot([lv for lv, _ in points],
                       [r['latency_us']['p99'] / 1000.0 for _, r in points],
                       style, marker='o', label=label)
        for axis, title, unit in ((left, 'Throughput', 'calls/s'),
                                  (right, 'p99 latency', 'ms')):
            axis.set_xscale('log', base=2)
            axis.set_xticks(levels)
            axis.set_xticklabels([str(lv) for lv in levels])
            axis.set_xlabel('calls in flight')
            axis.set_ylabel(unit)
            axis.set_title(title)
            axis.grid(True, alpha=0.3)
        right.set_yscale('log')
        left.legend(fontsize=7)
        fig.suptitle('cellgw side-by-side benchmark, payload %d B' %
                     self.args.payload_bytes)
        fig.tight_layout()
        path = os.path.join(self.out, 'bench.png')
        fig.savefig(path, dpi=110)
        return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cellgw', help='gateway binary')
    parser.add_argument('--bench', help='cellgw-bench binary')
    parser.add_argument('--echo-server')
    parser.add_argument('--raw-probe')
    parser.add_argument('--bridge-probe')
    parser.add_argument('--report-only', action='store_true',
                        help='measure nothing: rewrite report.md and bench.png '
                        'from the results.jsonl in --out')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny counts: checks that everything runs')
    parser.add_argument('--levels', default='1,8,64,256')
    parser.add_argument('--payload-bytes', type=int, default=256)
    parser.add_argument('--warmup-s', type=float, default=1.0)
    parser.add_argument('--duration-s', type=float, default=5.0)
    parser.add_argument('--repeats', type=int, default=1,
                        help='measure every point this many times, '
                        'interleaved, and report the median by calls/s '
                        '(steadier on a shared machine)')
    parser.add_argument('--smoke-count', type=int, default=20)
    parser.add_argument('--inflight-rss', type=int, default=10000)
    parser.add_argument('--no-taskset', action='store_true',
                        help='skip the native calls at 64 in flight with the '
                        'gateway pinned to CPU 0 and to CPUs 0-1')
    parser.add_argument('--gateway-log-level', default='warning',
                        help='cellgw log_level during the run (info logs '
                        'one line per request)')
    parser.add_argument('--out', default=os.environ.get(
        'TEST_UNDECLARED_OUTPUTS_DIR', 'bench-out'))
    args = parser.parse_args(argv)
    if args.smoke:
        args.levels = '1,8'
        args.repeats = 1
    if args.repeats < 1:
        parser.error('--repeats must be at least 1')
    if not args.report_only and not all(
            (args.cellgw, args.bench, args.echo_server, args.raw_probe,
             args.bridge_probe)):
        parser.error('--cellgw, --bench, --echo-server, --raw-probe and '
                     '--bridge-probe are required (run_bench.sh passes them)')

    # SIGTERM/SIGINT end the run through the finally below, so every process
    # is still stopped by PID.
    def interrupted(signum, frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, interrupted)

    try:
        bench = Bench(args)
    except (BenchError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write('run_bench: %s\n' % exc)
        return 1
    if not args.report_only:
        try:
            bench.run()
        except (BenchError, rabbitmq_node.NodeError, KeyboardInterrupt) as exc:
            sys.stderr.write('run_bench: %s\n' % exc)
            return 1
        finally:
            bench.stop_all()
    report = bench.report()
    with open(os.path.join(bench.out, 'report.md'), 'w') as f:
        f.write(report)
    sys.stdout.write(report)
    plot = bench.plot()
    sys.stderr.write('results: %s\nreport: %s\nplot: %s\n' % (
        bench.results_path, os.path.join(bench.out, 'report.md'),
        plot or '(none)'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
