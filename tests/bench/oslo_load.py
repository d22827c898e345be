#!/usr/bin/python3
"""Load from a real oslo.messaging Python RPC client: the alternative cellgw replaces.

Part of tests/bench; run_bench.py runs it against tests/support/oslo_server.py.
Run it with /usr/bin/python3 (Debian's python3-oslo.messaging).

    oslo_load.py --url URL --topic TOPIC [--server S] [--exchange E]
                 --concurrency 64 --payload-bytes 256
                 [--warmup-s 1 --duration-s 5 | --count N]
                 [--watch name=PID,name=pg:PGID,...] [--label TEXT]

`concurrency` threads share one transport and one RPCClient (how a threaded
Python service calls), each making blocking calls of method `echo` with
args {"payload": "xxx..."} and a request_id context, as the gateway would
send. Calls that complete inside the window are measured.

stdout: one JSON line in the format of tests/bench/bench_stats.h (tool,
kind, topic, concurrency, payload_bytes, label, calls, seconds, calls_per_s,
latency_us, errors, cpu_s, ctxt_switches, ctxt_threads_lost, mem_kb); stderr:
a human line.
"""

import argparse
import json
import math
import os
import sys
import threading
import time
import uuid

from oslo_config import cfg
import oslo_messaging

_TICKS = os.sysconf('SC_CLK_TCK')


def _stat_fields(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(')') + 2:].split()


def _cpu_of(pid):
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _cpu_of_group(pgid):
    total = 0.0
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def _machine_busy():
    """Busy seconds of all CPUs (/proc/stat minus idle and iowait)."""
    with open('/proc/stat') as f:
        columns = f.readline().split()[1:9]
    return sum(int(v) for i, v in enumerate(columns) if i not in (3, 4)) / \
        _TICKS


def parse_watch(spec):
    """[(name, pid, kind)] from "name=PID,name=pg:PGID,name=self,name=machine"."""
    watched = []
    for entry in filter(None, spec.split(',')):
        name, _, target = entry.partition('=')
        if target == 'machine':
            watched.append((name, 0, 'machine'))
            continue
        group = target.startswith('pg:')
        if group:
            target = target[3:]
        if target == 'self':
            target = str(os.getpid())
        if not name or not target.isdigit():
            raise SystemExit('oslo_load.py: --watch: bad entry %r' % entry)
        watched.append((name, int(target), 'group' if group else 'pid'))
    return watched


def cpu_seconds(watched):
    readers = {'machine': lambda pid: _machine_busy(),
               'group': _cpu_of_group, 'pid': _cpu_of}
    return {name: readers[kind](pid) for name, pid, kind in watched}


def _thread_switches(pid):
    """{tid: voluntary + nonvoluntary context switches} of every thread of
    `pid`. /proc/<pid>/status counts the main thread only, hence the tasks."""
    threads = {}
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return threads
    for tid in tids:
        total = found = 0
        try:
            with open('/proc/%d/task/%s/status' % (pid, tid)) as f:
                for line in f:
                    key, _, value = line.partition(':')
                    if key in ('voluntary_ctxt_switches',
                               'nonvoluntary_ctxt_switches'):
                        total += int(value)
                        found += 1
        except OSError:
            continue   # exited since the listing
        if found == 2:
            threads[int(tid)] = total
    return threads


def context_switches(watched):
    """{name: {tid: switches}}, as ContextSwitches in bench_stats.cc."""
    result = {}
    for name, pid, kind in watched:
        if kind == 'machine':
            continue
        if kind == 'pid':
            result[name] = _thread_switches(pid)
            continue
        threads = {}
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[2]) == pid:
                threads.update(_thread_switches(int(entry)))
        result[name] = threads
    return result


def switches_between(before, after):
    """(switches, threads lost), as SwitchesBetween in bench_stats.cc: a
    thread seen only after started in the window and counts whole; one seen
    only before exited in it and what it did is lost."""
    switches = sum(n - before.get(tid, 0) for tid, n in after.items())
    return switches, sum(1 for tid in before if tid not in after)


def edge(watched):
    """CPU seconds and context switches at one edge of the window."""
    return cpu_seconds(watched), context_switches(watched)


def memory(watched):
    result = {}
    for name, pid, kind in watched:
        if kind != 'pid':
            continue
        sample = {}
        try:
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    key, _, value = line.partition(':')
                    if key in ('VmRSS', 'VmHWM'):
                        sample['rss' if key == 'VmRSS' else 'hwm'] = int(
                            value.split()[0])
        except OSError:
            continue
        if len(sample) == 2:
            result[name] = sample
    return result


def summarize(latencies_us):
    if not latencies_us:
        return {'count': 0, 'mean': 0, 'p50': 0, 'p90': 0, 'p99': 0,
                'max': 0}
    values = sorted(latencies_us)
    n = len(values)

    def rank(fraction):   # nearest rank, as bench_stats.cc
        index = max(1, math.ceil(fraction * n)) - 1
        return values[min(index, n - 1)]
    return {'count': n, 'mean': sum(values) / n, 'p50': rank(0.50),
            'p90': rank(0.90), 'p99': rank(0.99), 'max': values[-1]}


class Load(object):
    """The shared state of the calling threads."""

    def __init__(self, client, payload, count):
        self.client = client
        self.kwargs = {'payload': payload}
        self.ctxt = {'request_id': 'req-%s' % uuid.uuid4()}
        self.count = count
        self.lock = threading.Lock()
        self.issued = 0
        self.measuring = count > 0
        self.stop = False
        self.latencies_us = []
        self.errors = {}
        self.last_completion = None

    def take_ticket(self):
        if self.count <= 0:
            return not self.stop
        with self.lock:
            if self.issued >= self.count:
                return False
            self.issued += 1
            return True

    def worker(self):
        while self.take_ticket():
            start = time.perf_counter()
            error = None
            try:
                self.client.call(self.ctxt, 'echo', **self.kwargs)
            except Exception as exc:   # counted by class, as gRPC codes are
                error = type(exc).__name__
            end = time.perf_counter()
            if not self.measuring:
                continue
            with self.lock:
                self.last_completion = end
                if error is None:
                    self.latencies_us.append(int((end - start) * 1e6))
                else:
                    self.errors[error] = self.errors.get(error, 0) + 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--server')
    parser.add_argument('--exchange', default='openstack')
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--payload-bytes', type=int, default=256)
    parser.add_argument('--warmup-s', type=float, default=1.0)
    parser.add_argument('--duration-s', type=float, default=5.0)
    parser.add_argument('--count', type=int, default=0)
    parser.add_argument('--timeout', type=float, default=30.0,
                        help='per-call timeout in seconds')
    parser.add_argument('--watch', default='')
    parser.add_argument('--label', default='')
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.payload_bytes < 0:
        parser.error('--concurrency >= 1 and --payload-bytes >= 0 required')
    watched = parse_watch(args.watch)

    oslo_messaging.set_transport_defaults(control_exchange=args.exchange)
    cfg.CONF([], project='cellgw-bench')
    cfg.CONF.set_override('metrics_thread_stop_timeout', 0,
                          group='oslo_messaging_metrics')
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=args.url)
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    client = oslo_messaging.get_rpc_client(transport, target,
                                           timeout=args.timeout)
    # One call first: the reply queue and consumer are made lazily on the
    # first call, which is start-up cost, not load.
    client.call({}, 'echo', payload='')

    load = Load(client, 'x' * args.payload_bytes, args.count)
    threads = [threading.Thread(target=load.worker, daemon=True)
               for _ in range(args.concurrency)]
    cpu_before = cpu_after = mem = None
    if load.measuring:
        cpu_before, switches_before = edge(watched)
        start = time.perf_counter()
    for thread in threads:
        thread.start()
    if not load.measuring:
        time.sleep(args.warmup_s)
        cpu_before, switches_before = edge(watched)
        start = time.perf_counter()
        load.measuring = True
        time.sleep(args.duration_s)
        with load.lock:
            load.measuring = False
            load.stop = True
        end = time.perf_counter()
        cpu_after, switches_after = edge(watched)
        mem = memory(watched)
    for thread in threads:
        thread.join(args.timeout + 5)
    if cpu_after is None:
        end = load.last_completion or time.perf_counter()
        cpu_after, switches_after = edge(watched)
        mem = memory(watched)
    deltas = {name: switches_between(switches_before.get(name, {}), threads)
              for name, threads in switches_after.items()}
    transport.cleanup()

    seconds = end - start
    calls = len(load.latencies_us)
    latency = summarize(load.latencies_us)
    report = {
        'tool': 'oslo_load', 'kind': 'call', 'topic': args.topic,
        'concurrency': args.concurrency, 'payload_bytes': args.payload_bytes,
        'label': args.label, 'calls': calls, 'seconds': seconds,
        'calls_per_s': calls / seconds if seconds > 0 else 0,
        'latency_us': latency, 'errors': load.errors,
        'cpu_s': {name: cpu_after[name] - cpu_before.get(name, 0.0)
                  for name in cpu_after},
        'ctxt_switches': {name: d[0] for name, d in deltas.items()},
        'ctxt_threads_lost': {name: d[1] for name, d in deltas.items()
                              if d[1]},
        'mem_kb': mem,
    }
    print(json.dumps(report), flush=True)
    sys.stderr.write(
        'oslo call %s c=%d: %d calls in %.2fs = %.0f calls/s; p50 %.3fms '
        'p90 %.3fms p99 %.3fms max %.3fms; errors %d\n' % (
            args.topic, args.concurrency, calls, seconds,
            report['calls_per_s'], latency['p50'] / 1000.0,
            latency['p90'] / 1000.0, latency['p99'] / 1000.0,
            latency['max'] / 1000.0, sum(load.errors.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
