#!/usr/bin/python3
"""cellgw demo: cast, call and fan out to real oslo.messaging services through the gateway.

Run by deploy/demo/run.sh after the build (it needs bazel-bin/gateway/cellgw,
bazel-bin/client/cellgw-cli and the Python stubs of //proto:gateway_py_gen):

    /usr/bin/python3 deploy/demo/demo.py [--keep]

It starts, all on loopback and all private to this run:
  * a RabbitMQ node (tests/support/rabbitmq_node.py) with a virtual host "cell1";
  * three example nova-compute-like services (deploy/demo/example_service.py) on topic
    "compute", exchange "nova", named compute-1, compute-2 and compute-3;
  * cellgw, with a generated config that routes cell "cell1" to that virtual host,
    caps the compute API at release "antelope" (6.2) and serves /metrics;
then talks to the services through the gateway with bazel-bin/client/cellgw-cli (each
command printed as a user would type it, then its output) and once from Python
(deploy/demo/python_client.py), subscribes to the services' oslo.messaging notifications
from a gRPC client and sends one back to a NotificationListener
(deploy/demo/python_notifications.py), and checks every answer. Whatever it started is stopped by
PID at the end, also after an error or Ctrl-C. Exit status 0 only when every step behaved
as expected. --keep keeps the work directory (config, logs) even after success.
"""

import argparse
import ctypes
import json
import os
import queue
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'support'))

import rabbitmq_node  # noqa: E402

# The demo watches the gateway's health with gRPC and then starts more processes. With gRPC's
# fork support on (python3-grpcio's default) a fork while a channel is busy can deadlock in
# gRPC's fork handler; the children exec at once and never use this process's gRPC.
os.environ.setdefault('GRPC_ENABLE_FORK_SUPPORT', 'false')

PYTHON = '/usr/bin/python3'
CLI = 'bazel-bin/client/cellgw-cli'
CELLGW = 'bazel-bin/gateway/cellgw'
STUBS = 'bazel-bin/proto/py'
SERVICE = 'deploy/demo/example_service.py'
PY_CLIENT = 'deploy/demo/python_client.py'
PY_NOTIFICATIONS = 'deploy/demo/python_notifications.py'
# compute-1 also runs an oslo.messaging NotificationListener in this pool.
LISTENER_SERVER = 'compute-1'
LISTENER_POOL = 'audit'
CPP_WORKER = 'bazel-bin/client/cellgw-example-worker'
PY_WORKER = 'deploy/demo/python_worker.py'
OSLO_CLIENT = 'tests/support/oslo_client.py'
SERVERS = ('compute-1', 'compute-2', 'compute-3')
CELL = 'cell1'
# The services answer API 6.2; the gateway caps "compute" at the alias "antelope" = 6.2,
# so every request names a version (nova's RPC client always does) and 6.3 is refused.
API_VERSION = '6.2'
REQUEST_VERSION = '6.0'
U64_MAX = 2 ** 64 - 1

STARTUP_TIMEOUT_S = 90     # services and gateway; a loaded 2-core machine is slow
EVENT_TIMEOUT_S = 30       # a service's receipt after the gateway accepted a message
COMMAND_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


# -- terminal output ----------------------------------------------------------------------

class Style(object):
    def __init__(self, enabled):
        def code(value):
            return value if enabled else ''
        self.bold = code('\033[1m')
        self.dim = code('\033[2m')
        self.green = code('\033[32m')
        self.red = code('\033[31m')
        self.cyan = code('\033[36m')
        self.reset = code('\033[0m')


STYLE = Style(sys.stdout.isatty() and os.environ.get('TERM', 'dumb') != 'dumb')
_print_lock = threading.Lock()


def out(text=''):
    with _print_lock:
        sys.stdout.write(text + '\n')
        sys.stdout.flush()


def heading(text):
    out()
    out('%s== %s ==%s' % (STYLE.bold, text, STYLE.reset))


def note(text):
    """The demo's own commentary, set apart from what commands print."""
    out('%s-> %s%s' % (STYLE.cyan, text, STYLE.reset))


def show_command(argv, background=False):
    out('%s$ %s%s%s' % (STYLE.bold, shlex.join(argv), ' &' if background else '',
                        STYLE.reset))


def show_output(text, limit=None):
    lines = text.rstrip('\n').split('\n') if text.strip() else []
    shown = lines if limit is None else lines[:limit]
    for line in shown:
        out(line)
    if len(lines) > len(shown):
        out('%s... (%d more lines)%s' % (STYLE.dim, len(lines) - len(shown), STYLE.reset))


def show_service_line(server, text):
    out('%s   [service %s] %s%s' % (STYLE.dim, server, text, STYLE.reset))


class StepFailed(Exception):
    """A step did not behave as expected; the message says how."""


def expect(condition, why):
    if not condition:
        raise StepFailed(why)


# -- processes ------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child before exec: if this demo is killed outright (SIGKILL, no finally),
    # the kernel still sends the child SIGTERM, so nothing outlives the demo.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(argv, stdout, stderr, env=None):
    """Starts a child in its own session, so Ctrl-C in the terminal reaches only this script,
    which then stops the children in order (gateway first, broker last)."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            env=env, start_new_session=True, preexec_fn=_die_with_parent)


def stop_process(proc, timeout=STOP_TIMEOUT_S):
    """SIGTERM, wait, then SIGKILL: the process is gone (and reaped) on return."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class ServiceEvents(object):
    """Collects the lines the example services print, in arrival order.

    One reader thread per service turns its stdout into (server, line) items on a queue;
    EOF becomes (server, None), so a service that dies is noticed at once.
    """

    LINE = re.compile(r'^(?P<server>[\w.-]+): (?P<text>.*)$')

    def __init__(self):
        self._queue = queue.Queue()

    def attach(self, server, stream, log_path):
        def read():
            with open(log_path, 'a', encoding='utf-8') as log:
                for raw in stream:
                    line = raw.decode('utf-8', 'replace').rstrip('\n')
                    log.write(line + '\n')
                    log.flush()
                    match = self.LINE.match(line)
                    if match:
                        self._queue.put((match.group('server'), match.group('text')))
            self._queue.put((server, None))
        thread = threading.Thread(target=read, name='read-' + server, daemon=True)
        thread.start()

    def wait_for(self, predicate, count, what, timeout=EVENT_TIMEOUT_S):
        """Prints arriving lines until `count` of them satisfy predicate(server, text).

        Returns the matching (server, text) pairs. Raises StepFailed when a service exits
        or `timeout` passes first.
        """
        matches = []
        deadline = time.monotonic() + timeout
        while len(matches) < count:
            remaining = deadline - time.monotonic()
            try:
                server, text = self._queue.get(timeout=max(remaining, 0))
            except queue.Empty:
                raise StepFailed('%s: saw %d of %d within %d s' % (
                    what, len(matches), count, timeout))
            if text is None:
                raise StepFailed('service %s exited (see its log)' % server)
            show_service_line(server, text)
            if predicate(server, text):
                matches.append((server, text))
        return matches

    def drain(self):
        """Prints whatever arrived and was not waited for; returns it."""
        seen = []
        while True:
            try:
                server, text = self._queue.get_nowait()
            except queue.Empty:
                return seen
            if text is not None:
                show_service_line(server, text)
                seen.append((server, text))


def wait_cell_serving(addr, cell, gateway, timeout):
    """Blocks until the gateway's health service reports `cell/<cell>` SERVING.

    Uses grpc.health.v1.Health/Watch (a stream of status changes, so no polling). The two
    messages are tiny and encoded by hand because Debian ships no Python health stubs:
    HealthCheckRequest{service = 1: string}, HealthCheckResponse{status = 1: enum},
    SERVING = 1. Raises StepFailed when the gateway exits or `timeout` passes first.
    """
    import grpc
    name = ('cell/' + cell).encode()
    request = b'\x0a' + bytes([len(name)]) + name
    channel = grpc.insecure_channel(addr)
    try:
        watch = channel.unary_stream('/grpc.health.v1.Health/Watch')
        call = watch(request, timeout=timeout, wait_for_ready=True)

        def cancel_when_gateway_exits():
            gateway.wait()
            call.cancel()
        threading.Thread(target=cancel_when_gateway_exits, daemon=True).start()
        try:
            for response in call:
                if response[:2] == b'\x08\x01':
                    return
        except grpc.RpcError as error:
            if gateway.poll() is not None:
                raise StepFailed('cellgw exited with status %s' % gateway.returncode)
            raise StepFailed('cell %s not SERVING: %s %s' % (
                cell, error.code().name, error.details()))
        raise StepFailed('health stream ended before cell %s was SERVING' % cell)
    finally:
        channel.close()


def read_metrics(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode('utf-8')


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + '{') or line.startswith(name + ' '):
            total += float(line.rsplit(' ', 1)[1])
    return total


# -- the demo -------------------------------------------------------------------------------

class Demo(object):
    def __init__(self, workdir):
        self.workdir = workdir
        self.broker = None
        self.services = {}     # oslo server name -> Popen
        self.workers = {}      # gRPC worker name -> Popen
        self.gateway = None
        self.events = ServiceEvents()
        self.addr = None
        self.metrics_url = None
        self.password = None
        self.results = []      # (title, ok, detail)
        self.subscriber = None   # the gRPC subscriber (Popen) of the notification steps
        self.subscriber_lines = queue.Queue()
        self.step_total = 0

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    # -- set-up ---------------------------------------------------------------------------

    def start_broker(self):
        heading('Set-up 1/3: a private RabbitMQ node')
        self.broker = rabbitmq_node.PrivateRabbitMQ(self.path('rabbitmq'))
        note('starting RabbitMQ on loopback (a cold start takes a few seconds) ...')
        self.broker.start()
        self.broker.add_vhost(CELL)
        # The cell's own user, so the ListCells step can show its password redacted.
        self.password = 'demo-' + secrets.token_hex(6)
        self.broker.ctl('add_user', 'nova', self.password)
        self.broker.ctl('set_permissions', '-p', CELL, 'nova', '.*', '.*', '.*')
        note('node %s, AMQP on 127.0.0.1:%d, virtual host "%s" with user "nova"' % (
            self.broker.node, self.broker.amqp_port, CELL))

    def cell_url(self):
        return 'rabbit://nova:%s@127.0.0.1:%d/%s' % (self.password, self.broker.amqp_port,
                                                      CELL)

    def start_services(self):
        heading('Set-up 2/3: three example oslo.messaging services (nova-compute-like)')
        for index, server in enumerate(SERVERS):
            argv = [PYTHON, SERVICE, '--url', self.cell_url(), '--server', server,
                    '--topic', 'compute', '--exchange', 'nova', '--api-version', API_VERSION,
                    '--cores', str(16 * (index + 1))]
            if server == LISTENER_SERVER:
                argv += ['--listen-notifications', LISTENER_POOL]
            show_command(argv, background=True)
            stderr = open(self.path('%s.stderr.log' % server), 'wb')
            try:
                proc = spawn(argv, subprocess.PIPE, stderr)
            finally:
                stderr.close()
            self.services[server] = proc
            self.events.attach(server, proc.stdout, self.path('%s.log' % server))
        ready = self.events.wait_for(lambda s, t: t.startswith('ready:'), len(SERVERS),
                                     'services ready', timeout=STARTUP_TIMEOUT_S)
        expect(sorted(s for s, _ in ready) == sorted(SERVERS), 'not every service is ready')

    def start_gateway(self):
        heading('Set-up 3/3: cellgw')
        port = rabbitmq_node.free_port()
        metrics_port = rabbitmq_node.free_port()
        while metrics_port == port:
            metrics_port = rabbitmq_node.free_port()
        self.addr = '127.0.0.1:%d' % port
        self.metrics_url = 'http://127.0.0.1:%d/metrics' % metrics_port
        config = self.path('cellgw.yaml')
        with open(config, 'w') as f:
            f.write('# Generated by deploy/demo/demo.py. Keys: gateway/config/config.h, README.\n'
                    'listen: %s\n'
                    'metrics_listen: 127.0.0.1:%d\n'
                    'shutdown_grace_period: 5\n'
                    'cells:\n'
                    '  - name: %s\n'
                    '    transport_url: %s\n'
                    '    control_exchange: nova\n'
                    '    version_aliases:\n'
                    '      antelope: "%s"\n'
                    '    upgrade_levels:\n'
                    '      compute: antelope\n' % (self.addr, metrics_port, CELL,
                                                   self.cell_url(), API_VERSION))
        show_command(['cat', config])
        with open(config) as f:
            show_output(f.read())
        argv = [CELLGW, '--check-config', config]
        show_command(argv)
        check = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        show_output(check.stdout + check.stderr)
        expect(check.returncode == 0, 'cellgw --check-config exited %d' % check.returncode)

        argv = [CELLGW, '--config', config]
        show_command(argv, background=True)
        log = open(self.path('cellgw.log'), 'wb')
        try:
            self.gateway = spawn(argv, log, subprocess.STDOUT)
        finally:
            log.close()
        note('gateway pid %d, JSON logs in %s' % (self.gateway.pid, self.path('cellgw.log')))
        wait_cell_serving(self.addr, CELL, self.gateway, STARTUP_TIMEOUT_S)
        note('gRPC health reports cell/%s SERVING: the gateway is connected to the broker'
             % CELL)

    # -- steps ----------------------------------------------------------------------------

    def cli(self, *args):
        """Runs cellgw-cli as a user would, printing the command and what it printed."""
        argv = [CLI] + list(args)
        show_command(argv)
        env = dict(os.environ, CELLGW_ADDR=self.addr)
        result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                timeout=COMMAND_TIMEOUT_S)
        return result

    def python(self, script, *args):
        """Runs one of the demo's Python clients as a user would, printing the command and
        what it printed."""
        argv = [PYTHON, script] + list(args)
        show_command(argv)
        env = dict(os.environ, CELLGW_ADDR=self.addr)
        result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                timeout=COMMAND_TIMEOUT_S)
        show_output(result.stdout + result.stderr)
        return result

    def step(self, title, function):
        heading(title)
        try:
            detail = function()
            self.results.append((title, True, detail or ''))
            out('%sok%s %s' % (STYLE.green, STYLE.reset, detail or ''))
        except (StepFailed, subprocess.TimeoutExpired, OSError, ValueError,
                KeyError) as error:
            self.events.drain()
            self.results.append((title, False, str(error)))
            out('%sFAILED%s %s' % (STYLE.red, STYLE.reset, error))

    def step_list_cells(self):
        r = self.cli('list-cells')
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 0, 'list-cells exited %d' % r.returncode)
        expect('connected' in r.stdout and 'nova:***@' in r.stdout, 'cell not listed as '
               'connected with its password redacted')
        expect(self.password not in r.stdout + r.stderr, 'the password was shown')
        return 'cell1 connected; transport_url shows nova:***@ (the password never leaves)'

    def step_call(self):
        r = self.cli('call', '--topic', 'compute', '--version', REQUEST_VERSION,
                     'get_host_info')
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 0, 'call exited %d' % r.returncode)
        info = json.loads(r.stdout)
        self.events.wait_for(lambda s, t: s == info['host'] and t.startswith('get_host_info'),
                             1, 'the service answering')
        expect(info['net_rx_bytes'] == U64_MAX, 'net_rx_bytes is not 2**64-1')
        expect(info['site'] == 'Zürich DC-2, rack \u201cB7\u201d \u2603', 'site garbled')
        note('decoded: host=%s net_rx_bytes=%d (2**64-1, exact) site=%s operator=%s' % (
            info['host'], info['net_rx_bytes'], info['site'], info['operator']))
        return 'answered by %s; big integer and unicode arrived exactly' % info['host']

    def step_server_call(self):
        r = self.cli('call', '--topic', 'compute', '--version', REQUEST_VERSION,
                     '--server', 'compute-2', 'get_host_info')
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 0, 'call exited %d' % r.returncode)
        info = json.loads(r.stdout)
        expect(info['host'] == 'compute-2', 'answered by %s, not compute-2' % info['host'])
        self.events.wait_for(lambda s, t: t.startswith('get_host_info'), 1,
                             'compute-2 answering')
        return 'sent to queue compute.compute-2; compute-2 answered'

    def step_cast(self):
        args = {'instance': {'uuid': '6f1c2b0e-4d8a-4c47-9d8e-1f0a3c5b7e21', 'name': 'web-1'},
                'flavor': {'name': 'm1.large', 'vcpus': 4, 'ram_mb': 8192}}
        context = {'request_id': 'req-demo-resize', 'user_id': 'alice', 'project_id': 'demo'}
        r = self.cli('cast', '--topic', 'compute', '--version', REQUEST_VERSION,
                     '--context', json.dumps(context), 'resize_instance', json.dumps(args))
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 0, 'cast exited %d' % r.returncode)
        expect(json.loads(r.stdout).get('unique_id'), 'no unique_id')
        got = self.events.wait_for(
            lambda s, t: t.startswith('resize_instance(') and 'req-demo-resize' in t, 1,
            'the receipt of the cast')
        expect('"web-1"' in got[0][1] and '"m1.large"' in got[0][1], 'arguments garbled')
        return 'one service (%s) received it, with the caller\'s request_id' % got[0][0]

    def step_fanout(self):
        r = self.cli('fanout', '--topic', 'compute', '--version', REQUEST_VERSION,
                     '--context', '{"request_id": "req-demo-refresh"}', 'refresh_cache')
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 0, 'fanout exited %d' % r.returncode)
        got = self.events.wait_for(
            lambda s, t: t.startswith('refresh_cache(') and 'req-demo-refresh' in t,
            len(SERVERS), 'fanout receipts')
        expect(sorted(s for s, _ in got) == sorted(SERVERS),
               'receipts from %s, not once from each service' % sorted(s for s, _ in got))
        return 'each of %s received it once' % ', '.join(SERVERS)

    def step_remote_exception(self):
        r = self.cli('call', '--topic', 'compute', '--version', REQUEST_VERSION,
                     '--server', 'compute-1', 'reserve_cores', '{"cores": 64}')
        # The traceback is long; the lines before it say what happened.
        show_output(r.stdout + r.stderr, limit=8)
        expect(r.returncode == 1, 'call exited %d, not 1' % r.returncode)
        expect('UNKNOWN' in r.stderr, 'not mapped to UNKNOWN')
        expect('demo_exceptions.CoreQuotaExceeded' in r.stderr, 'class/module missing')
        expect('"requested": 64' in r.stderr, 'kwargs missing')
        self.events.wait_for(lambda s, t: t.startswith('reserve_cores('), 1,
                             'compute-1 running reserve_cores')
        return ('remote demo_exceptions.CoreQuotaExceeded -> UNKNOWN with class, module, '
                'message and kwargs')

    def step_version_cap(self):
        published = metric_sum(read_metrics(self.metrics_url),
                               'cellgw_amqp_messages_published_total')
        r = self.cli('call', '--topic', 'compute', '--version', '6.3', 'get_host_info')
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 1, 'call exited %d, not 1' % r.returncode)
        expect('FAILED_PRECONDITION' in r.stderr, 'not FAILED_PRECONDITION')
        after = metric_sum(read_metrics(self.metrics_url),
                           'cellgw_amqp_messages_published_total')
        expect(after == published, 'messages were published (%d -> %d)' % (published, after))
        note('cellgw_amqp_messages_published_total still %d: nothing reached the broker'
             % published)
        return 'refused before sending, as oslo.messaging\'s RPCVersionCapError would be'

    def step_python(self):
        r = self.python(PY_CLIENT)
        expect(r.returncode == 0, 'python_client.py exited %d' % r.returncode)
        self.events.wait_for(
            lambda s, t: t.startswith('get_host_info') or t.startswith('reserve_cores'), 2,
            'the two Python calls arriving')
        return 'Python stubs from grpc_python_plugin: result and RemoteError trailer decoded'

    def subscriber_line(self, what, predicate=lambda text: True):
        """The subscriber's next output line satisfying `predicate` (printed as it comes)."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while True:
            try:
                line = self.subscriber_lines.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise StepFailed('%s: nothing within %d s' % (what, EVENT_TIMEOUT_S))
            if line is None:
                raise StepFailed('%s: the subscriber exited (status %s)' % (
                    what, self.subscriber.wait()))
            who, _, text = line.partition(': ')
            out('%s   [grpc %s] %s%s' % (STYLE.dim, who, text, STYLE.reset))
            if predicate(line):
                return line

    def step_subscribe(self):
        argv = [PYTHON, PY_NOTIFICATIONS, 'subscribe', '--topic', 'notifications',
                '--count', '3']
        show_command(argv, background=True)
        env = dict(os.environ, CELLGW_ADDR=self.addr)
        self.subscriber = spawn(argv, subprocess.PIPE, subprocess.STDOUT, env=env)

        def read():
            for raw in self.subscriber.stdout:
                self.subscriber_lines.put(raw.decode('utf-8', 'replace').rstrip('\n'))
            self.subscriber_lines.put(None)
        threading.Thread(target=read, name='read-subscriber', daemon=True).start()
        self.subscriber_line('the subscription', lambda t: t == 'subscriber: subscribed')
        # Step 4's cast made a service notify before anyone listened: oslo's notifier declared
        # the queue, which kept it.
        line = self.subscriber_line('the notification of step 4',
                                    lambda t: 'req-demo-resize' in t)
        expect(json.loads(line.split(': ', 1)[1])['payload']['instance']['name'] == 'web-1',
               'step 4\'s payload garbled')
        note('that one was sent in step 4, before anyone subscribed: the queue oslo\'s notifier '
             'declares kept it. Now a cast makes a compute service send one more')
        r = self.cli('cast', '--topic', 'compute', '--version', REQUEST_VERSION,
                     '--context', '{"request_id": "req-demo-notify", "user_id": "alice"}',
                     'resize_instance', '{"instance": "db-2", "flavor": "m1.small"}')
        show_output(r.stdout + r.stderr)
        expect(r.returncode == 0, 'cast exited %d' % r.returncode)
        sent = self.events.wait_for(
            lambda s, t: t.startswith('notified compute.instance.resize.end'), 1,
            'the service notifying')
        line = self.subscriber_line('the notification', lambda t: 'req-demo-notify' in t)
        got = json.loads(line.split(': ', 1)[1])
        expect(got['publisher_id'] == 'compute.%s' % sent[0][0],
               'publisher_id %s, not compute.%s' % (got['publisher_id'], sent[0][0]))
        expect(got['payload']['instance'] == 'db-2', 'payload garbled')
        expect(got['context'].get('request_id') == 'req-demo-notify', 'context garbled')
        expect(got['priority'] == 'info', 'priority %s' % got['priority'])
        return ('compute.instance.resize.end of step 4 (kept in the queue) and of %s arrived '
                'in the gRPC stream with payload and context' % sent[0][0])

    def step_notify(self):
        r = self.python(PY_NOTIFICATIONS, 'notify', '--publisher-id', 'billing.demo',
                        '--event-type', 'billing.invoice.created', '--priority', 'audit',
                        '--payload', json.dumps({'invoice': 'INV-7', 'cents': U64_MAX}),
                        '--context', '{"request_id": "req-demo-invoice"}')
        expect(r.returncode == 0, 'notify exited %d' % r.returncode)
        message_id = json.loads(r.stdout)['message_id']
        got = self.events.wait_for(
            lambda s, t: s == LISTENER_SERVER and 'billing.invoice.created' in t, 1,
            'the NotificationListener receiving it')
        expect(str(U64_MAX) in got[0][1], 'the big integer did not arrive exactly')
        line = self.subscriber_line('the notification in the gRPC stream',
                                    lambda t: 'billing.invoice.created' in t)
        expect(json.loads(line.split(': ', 1)[1])['message_id'] == message_id,
               'another message_id in the stream')
        self.subscriber_line('the stream ending', lambda t: t.startswith('subscriber: stream'))
        code = self.subscriber.wait(timeout=EVENT_TIMEOUT_S)
        expect(code == 0, 'the subscriber exited %s' % code)
        return ('Notify reached %s\'s oslo NotificationListener (pool "%s") and the gRPC '
                'subscriber, which then ended its stream' % (LISTENER_SERVER, LISTENER_POOL))

    def start_worker(self, name, argv):
        show_command(argv, background=True)
        stderr = open(self.path('%s.stderr.log' % name), 'wb')
        try:
            proc = spawn(argv, subprocess.PIPE, stderr)
        finally:
            stderr.close()
        self.workers[name] = proc  # stopped before the gateway, by PID
        self.events.attach(name, proc.stdout, self.path('%s.log' % name))
        self.events.wait_for(lambda s, t: s == 'registered', 1,
                             '%s registered' % name, timeout=STARTUP_TIMEOUT_S)

    def oslo_call(self, topic, method, args):
        argv = [PYTHON, OSLO_CLIENT, '--url', self.cell_url(), '--exchange', 'nova',
                '--topic', topic, 'call', method, args]
        show_command(argv)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        show_output(r.stdout + r.stderr)
        return r.stdout.strip()

    def step_workers(self):
        note('gRPC workers serve oslo topics through the gateway (Serve); a real oslo.messaging '
             'RPC client calls them as it would call a Python service')
        self.start_worker('cpp-worker', [CPP_WORKER, '--addr', self.addr, '--cell', CELL,
                                         '--topic', 'inventory', '--server', 'cpp-worker'])
        self.start_worker('py-worker', [PYTHON, PY_WORKER, '--addr', self.addr, '--cell', CELL,
                                        '--topic', 'billing', '--server', 'py-worker'])
        out_cpp = self.oslo_call('inventory', 'hello', '{"item": %d}' % U64_MAX)
        expect('"greeting": "hello from cpp-worker"' in out_cpp and str(U64_MAX) in out_cpp,
               'the C++ worker did not answer the oslo client')
        out_py = self.oslo_call('billing', 'add', '{"a": %d, "b": 1}' % U64_MAX)
        expect(out_py == str(U64_MAX + 1), 'the Python worker did not answer the oslo client')
        return 'oslo RPC client -> cellgw -> C++ and Python gRPC workers, results exact'

    def step_metrics(self):
        wanted = ('cellgw_requests_total{', 'cellgw_amqp_connection_up{',
                  'cellgw_amqp_messages_published_total{',
                  'cellgw_notifications_delivered_total{',
                  'cellgw_notifications_acknowledged_total{')
        pattern = '^(%s)' % '|'.join(w.rstrip('{') for w in wanted)
        out('%s$ curl -s %s | grep -E %s%s' % (STYLE.bold, self.metrics_url,
                                              shlex.quote(pattern), STYLE.reset))
        # Fetched with urllib, so the demo needs no curl; the output is the same.
        text = read_metrics(self.metrics_url)
        lines = [l for l in text.splitlines() if l.startswith(wanted)]
        show_output('\n'.join(lines), limit=16)
        note('%d lines in all: request counts and durations by cell, kind and status code; '
             'broker connections; publishes, confirms, returns; dropped replies' %
             len(text.splitlines()))
        expect(any(l.startswith('cellgw_requests_total{') for l in lines),
               'no cellgw_requests_total')
        return 'Prometheus metrics served on %s' % self.metrics_url

    def run_steps(self):
        heading('The gateway is ready. From here on, commands as a user would type them')
        show_command(['export', 'CELLGW_ADDR=%s' % self.addr])
        note('cellgw-cli reads the gateway address from CELLGW_ADDR (or --addr)')
        steps = [
            ('1. list-cells: the cells the gateway routes to', self.step_list_cells),
            ('2. call: request and reply (result JSON)', self.step_call),
            ('3. call to one named server (--server)', self.step_server_call),
            ('4. cast: one-way to one server of the topic', self.step_cast),
            ('5. fanout: one-way to every server of the topic', self.step_fanout),
            ('6. a call whose method raises: the remote exception',
             self.step_remote_exception),
            ('7. over the version cap (compute capped at antelope = 6.2)',
             self.step_version_cap),
            ('8. the same API from Python (generated stubs)', self.step_python),
            ('9. subscribe: a service\'s oslo.messaging notification in a gRPC stream',
             self.step_subscribe),
            ('10. notify: from gRPC to an oslo NotificationListener (and the stream)',
             self.step_notify),
            ('11. serving oslo topics from gRPC workers (C++ and Python)', self.step_workers),
            ('12. the gateway\'s /metrics', self.step_metrics),
        ]
        self.step_total = len(steps)
        for title, function in steps:
            self.step(title, function)
        self.events.drain()

    # -- tear-down ------------------------------------------------------------------------

    def stop_all(self):
        """Stops everything this demo started, by PID: subscriber, gRPC workers, gateway,
        oslo services, broker."""
        heading('Stopping everything this demo started')
        problems = []
        pids = []

        def stop(label, proc, clean_codes=None):
            """Stops `proc`; an exit status outside `clean_codes` (None: any) is a problem."""
            pids.append(proc.pid)
            code = stop_process(proc)
            note('%s (pid %d) stopped, exit status %s' % (label, proc.pid, code))
            if clean_codes is not None and code not in clean_codes:
                problems.append('%s exited with status %s' % (label, code))

        if self.subscriber is not None:
            stop('the gRPC subscriber', self.subscriber)
        # The gRPC workers before the gateway: they stop cleanly (exit 0) on SIGTERM, and
        # would exit 1 on the stream the gateway's own shutdown ends.
        for name, proc in self.workers.items():
            stop(name, proc, (0,))
        if self.gateway is not None:
            stop('cellgw', self.gateway, (0, -signal.SIGTERM))
        for server, proc in self.services.items():
            stop(server, proc)
        if self.broker is not None and self.broker.pid is not None:
            broker_pids = [self.broker.pid, self.broker.epmd_pid]
            pids.extend(p for p in broker_pids if p)
            node = self.broker.node
            try:
                self.broker.stop()
                note('RabbitMQ node %s (pid %d) and its epmd (pid %s) stopped' % (
                    node, broker_pids[0], broker_pids[1]))
            except rabbitmq_node.NodeError as error:
                problems.append(str(error))
        left = [pid for pid in pids if os.path.exists('/proc/%d' % pid)]
        marks = [self.workdir] + ([self.broker.node] if self.broker and self.broker.node
                                  else [])
        left += leftovers(marks)
        if left:
            problems.append('still running: pids %s' % sorted(set(left)))
        else:
            note('nothing left running (no process of this demo, no beam.smp of its node)')
        return problems


def leftovers(marks):
    """PIDs of any process whose command line mentions one of `marks` (this run's work
    directory or its broker's node name: a beam.smp of ours would show them)."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                cmdline = f.read()
        except OSError:
            continue
        if any(mark.encode() in cmdline for mark in marks):
            found.append(int(entry))
    return found


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--keep', action='store_true',
                        help='keep the work directory (config, logs) after success')
    args = parser.parse_args(argv)
    os.chdir(REPO)   # every command is shown relative to the repository, runnable as shown
    for path in (CLI, CELLGW, os.path.join(STUBS, 'cellgw', 'v1', 'gateway_pb2.py')):
        if not os.path.exists(path):
            out('demo: %s is missing: run deploy/demo/run.sh (it builds first)' % path)
            return 2
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)

    workdir = tempfile.mkdtemp(prefix='cellgw-demo.')
    demo = Demo(workdir)
    version = subprocess.run([CELLGW, '--version'], capture_output=True, text=True)
    out('%scellgw demo%s: %s; work directory %s' % (
        STYLE.bold, STYLE.reset, version.stdout.strip(), workdir))
    setup_error = None
    interrupted = False
    try:
        try:
            demo.start_broker()
            demo.start_services()
            demo.start_gateway()
        except (StepFailed, rabbitmq_node.NodeError, subprocess.SubprocessError,
                OSError) as error:
            setup_error = str(error)
            out('%sFAILED%s set-up: %s' % (STYLE.red, STYLE.reset, error))
        if setup_error is None:
            demo.run_steps()
    except KeyboardInterrupt:
        interrupted = True
        out()
        out('%sinterrupted%s' % (STYLE.red, STYLE.reset))
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        problems = demo.stop_all()

    heading('Summary')
    for title, ok, detail in demo.results:
        out('  %s%-6s%s %s' % (STYLE.green if ok else STYLE.red, 'ok' if ok else 'FAILED',
                               STYLE.reset, title))
    failed = [r for r in demo.results if not r[1]]
    success = not (setup_error or interrupted or failed or problems)
    for problem in problems:
        out('  %sFAILED%s clean-up: %s' % (STYLE.red, STYLE.reset, problem))
    if success:
        out('%sAll %d steps behaved as expected.%s cellgw carried casts, calls, fanouts and '
            'notifications between its gRPC API and real oslo.messaging services, and served '
            'oslo topics from gRPC workers.' % (
                STYLE.green, len(demo.results), STYLE.reset))
        if args.keep:
            out('Config and logs kept in %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    if setup_error:
        out('  %sFAILED%s set-up: %s' % (STYLE.red, STYLE.reset, setup_error))
    if interrupted:
        verdict = 'Interrupted after %d of %d steps' % (len(demo.results), demo.step_total)
    elif setup_error:
        verdict = 'Set-up failed'
    else:
        verdict = '%d of %d steps failed' % (len(failed), len(demo.results))
    out('%s%s.%s Config and logs kept in %s (cellgw.log, compute-*.log, '
        'rabbitmq/server.out).' % (STYLE.red, verdict, STYLE.reset, workdir))
    return 1


if __name__ == '__main__':
    sys.exit(main())
