#!/usr/bin/python3
"""Shared pieces of the ops tests (tests/ops): the real cellgw binary as a child process,
a private RabbitMQ node, the real oslo.messaging test server, and gRPC stubs.

Run with /usr/bin/python3 (Debian's, which has python3-grpcio, python3-yaml and
python3-oslo.messaging). Every process is started here as a direct child and stopped by its
PID: SIGTERM first (cellgw and the oslo server both shut down cleanly on it), SIGKILL only
when it does not exit in time. Waits are on signals the processes give: a line cellgw logs,
an event the oslo server prints, a message on a gRPC stream; never a fixed sleep.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

WORKSPACE = os.environ.get('TEST_WORKSPACE', 'cellgw')


def runfile(relative):
    """Absolute path of `relative` (a workspace path) in the test's runfiles."""
    for root in (os.environ.get('RUNFILES_DIR'), os.environ.get('TEST_SRCDIR')):
        if root:
            path = os.path.join(root, WORKSPACE, relative)
            if os.path.exists(path):
                return path
    raise FileNotFoundError('%s is not in the runfiles (is it a data dependency?)' %
                            relative)


def tmpdir(*parts):
    """A directory under $TEST_TMPDIR, created when missing."""
    path = os.path.join(os.environ.get('TEST_TMPDIR', '/tmp'), *parts)
    os.makedirs(path, exist_ok=True)
    return path


sys.path.insert(0, runfile('tests/support'))
sys.path.insert(0, runfile('tests/ops/py'))
sys.path.insert(0, runfile('proto/py'))

import python_test_tree  # noqa: E402,F401  (before grpc, and keeps it initialised: see there)
import grpc  # noqa: E402

from cellgw.v1 import gateway_pb2  # noqa: E402,F401
from cellgw.v1 import gateway_pb2_grpc  # noqa: E402,F401
import ops_health_pb2  # noqa: E402
import ops_health_pb2_grpc  # noqa: E402
import ops_reflection_pb2  # noqa: E402,F401
import ops_reflection_pb2_grpc  # noqa: E402,F401
from rabbitmq_node import PrivateRabbitMQ, free_port  # noqa: E402,F401

CELLGW = 'gateway/cellgw'
PYTHON = '/usr/bin/python3'
# A cold RabbitMQ plus oslo start is several seconds on the project's 2-core machines; the
# deadlines leave room for a loaded machine. They bound failures, they never pace success.
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60

SERVING = ops_health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = ops_health_pb2.HealthCheckResponse.NOT_SERVING


def status_name(status):
    return ops_health_pb2.HealthCheckResponse.ServingStatus.Name(status)


class LineReader(object):
    """Reads a child's pipe line by line on a thread, keeping every line (and copying them
    to `copy_path`), so tests can wait for a line without polling."""

    def __init__(self, pipe, copy_path):
        self._pipe = pipe
        self._copy = open(copy_path, 'ab')
        self._cond = threading.Condition()
        self.lines = []
        self.eof = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        for raw in iter(self._pipe.readline, b''):
            self._copy.write(raw)
            self._copy.flush()
            with self._cond:
                self.lines.append(raw.decode('utf-8', 'replace').rstrip('\n'))
                self._cond.notify_all()
        with self._cond:
            self.eof = True
            self._cond.notify_all()
        self._copy.close()

    def wait_for(self, predicate, timeout, what, start=0):
        """The first line from index `start` on for which predicate(line) is true.

        Raises AssertionError after `timeout` seconds or when the pipe closes first.
        """
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    if predicate(self.lines[index]):
                        return self.lines[index]
                    index += 1
                if self.eof:
                    raise AssertionError('%s: the process closed its output first; last '
                                         'lines:\n%s' % (what, '\n'.join(self.lines[-20:])))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('%s: not seen within %s s; last lines:\n%s' %
                                         (what, timeout, '\n'.join(self.lines[-20:])))
                self._cond.wait(remaining)

    def join(self, timeout=STOP_TIMEOUT_S):
        """Waits until the child closed the pipe (it exited) and returns every line."""
        self._thread.join(timeout)
        with self._cond:
            return list(self.lines)


class Child(object):
    """A direct child process, stopped by PID."""

    def __init__(self, argv, env, name, stdout_pipe=False, stderr_pipe=False):
        self.name = name
        # Undeclared outputs survive the test run (bazel-testlogs/.../test.outputs).
        log_dir = os.environ.get('TEST_UNDECLARED_OUTPUTS_DIR') or tmpdir('logs')
        self.stdout_path = os.path.join(log_dir, name + '.stdout')
        self.stderr_path = os.path.join(log_dir, name + '.stderr')
        stdout = subprocess.PIPE if stdout_pipe else open(self.stdout_path, 'ab')
        stderr = subprocess.PIPE if stderr_pipe else open(self.stderr_path, 'ab')
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                        stdout=stdout, stderr=stderr)
        self.pid = self.process.pid
        self.stdout = LineReader(self.process.stdout, self.stdout_path) \
            if stdout_pipe else None
        self.stderr = LineReader(self.process.stderr, self.stderr_path) \
            if stderr_pipe else None
        for f in (stdout, stderr):
            if f is not subprocess.PIPE:
                f.close()

    def running(self):
        return self.process.poll() is None

    def signal(self, number):
        if self.running():
            os.kill(self.pid, number)

    def wait(self, timeout=STOP_TIMEOUT_S):
        """The exit code; raises subprocess.TimeoutExpired after `timeout` seconds."""
        return self.process.wait(timeout=timeout)

    def stop(self):
        """SIGTERM, then SIGKILL if it has not exited in time. Returns the exit code."""
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
        return self.process.wait()


def base_env(extra=None):
    """A small, explicit environment: nothing CELLGW_* leaks in from the test's own."""
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'HOME': tmpdir('home')}
    env.update(extra or {})
    return env


def write_file(path, text, mode=0o644):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class Gateway(Child):
    """The real cellgw binary serving `config_path`; knows its ports once it is up."""

    def __init__(self, config_path, env=None, name='cellgw', argv=None):
        argv = argv or [runfile(CELLGW), '--config', config_path]
        super().__init__(argv, base_env(env), name, stderr_pipe=True)
        self.port = None
        self.metrics_port = None
        self.health_port = None

    def wait_serving(self, timeout=START_TIMEOUT_S):
        """Waits for the "cellgw serving" line and reads the bound ports from it."""
        line = self.stderr.wait_for(lambda l: '"cellgw serving"' in l, timeout,
                                    '%s: "cellgw serving" log line' % self.name)
        record = json.loads(line)
        self.port = record['port']
        self.metrics_port = record['metrics_port']
        self.health_port = record['health_port']
        return record

    def wait_log(self, predicate, timeout, what):
        """The first JSON log record for which predicate(record) is true."""
        def matches(line):
            try:
                return predicate(json.loads(line))
            except ValueError:
                return False
        return json.loads(self.stderr.wait_for(matches, timeout, what))

    def wait_cells_connected(self, cells, timeout=START_TIMEOUT_S):
        for cell in cells:
            self.wait_log(lambda r, c=cell: r.get('message') == 'broker connection up' and
                          r.get('cell') == c, timeout, 'broker connection up for ' + cell)

    def address(self):
        return '127.0.0.1:%d' % self.port

    def channel(self):
        return grpc.insecure_channel(self.address())

    def health_channel(self):
        """Plaintext, to the health listener (health_listen)."""
        return grpc.insecure_channel('127.0.0.1:%d' % self.health_port)

    def stub(self, channel):
        return gateway_pb2_grpc.CellGatewayStub(channel)


class OsloServer(Child):
    """tests/support/oslo_server.py: a real oslo.messaging RPC server printing JSON events."""

    def __init__(self, url, topic, server='server1', exchange='openstack', name=None):
        argv = [PYTHON, runfile('tests/support/oslo_server.py'), '--url', url, '--topic',
                topic, '--server', server, '--exchange', exchange]
        super().__init__(argv, base_env({'PYTHONDONTWRITEBYTECODE': '1'}),
                         name or 'oslo-%s-%s' % (topic, server), stdout_pipe=True)

    def wait_event(self, predicate, timeout, what):
        def matches(line):
            try:
                return predicate(json.loads(line))
            except ValueError:
                return False
        return json.loads(self.stdout.wait_for(matches, timeout, what))

    def wait_ready(self, timeout=START_TIMEOUT_S):
        return self.wait_event(lambda e: e.get('event') == 'ready', timeout,
                               self.name + ' ready')

    def events(self, kind):
        out = []
        for line in list(self.stdout.lines):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get('event') == kind:
                out.append(event)
        return out


class HealthWatch(object):
    """A grpc.health.v1 Watch stream read on a thread: statuses arrive as the server sends
    them, so a test waits for a change instead of polling Check."""

    def __init__(self, channel, service, timeout=600):
        stub = ops_health_pb2_grpc.HealthStub(channel)
        self._call = stub.Watch(ops_health_pb2.HealthCheckRequest(service=service),
                                timeout=timeout)
        self.service = service
        self._cond = threading.Condition()
        self.statuses = []
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for response in self._call:
                with self._cond:
                    self.statuses.append(response.status)
                    self._cond.notify_all()
        except grpc.RpcError as exc:
            with self._cond:
                self.error = exc
                self._cond.notify_all()

    def wait_for(self, status, timeout, start=0):
        """Index of the first status equal to `status` at or after `start`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.statuses)):
                    if self.statuses[i] == status:
                        return i
                if self.error is not None:
                    raise AssertionError('Watch(%r) ended with %s before %s (saw %s)' % (
                        self.service, self.error.code(), status_name(status),
                        [status_name(s) for s in self.statuses]))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError('Watch(%r): %s not seen within %s s (saw %s)' % (
                        self.service, status_name(status), timeout,
                        [status_name(s) for s in self.statuses]))
                self._cond.wait(remaining)

    def cancel(self):
        self._call.cancel()
        self._thread.join(10)


def health_check(channel, service, timeout=10):
    """The status Check returns for `service`; raises grpc.RpcError (NOT_FOUND for a name
    the server does not know)."""
    stub = ops_health_pb2_grpc.HealthStub(channel)
    return stub.Check(ops_health_pb2.HealthCheckRequest(service=service),
                      timeout=timeout).status


def poll_until(fetch, accept, timeout, what, interval=0.25):
    """Calls fetch() until accept(result) is true; for HTTP APIs that offer no push signal
    (Prometheus). Returns the accepted result; AssertionError with the last one after
    `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fetch()
            if accept(last):
                return last
        except OSError as exc:   # the server is not listening yet
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError('%s: not reached within %s s; last: %r' % (what, timeout,
                                                                           last))
        time.sleep(interval)


def make_dev_secrets(name):
    """Runs deploy/make-dev-secrets.sh (the development CA, server certificate and token the
    compose stack uses) into a fresh directory under $TEST_TMPDIR; returns the paths of its
    files by name ('ca.pem', 'tls.crt', 'tls.key', 'tokens', 'client-token') and the
    token ('token'). Needs //deploy:files as data."""
    directory = tmpdir(name)
    result = subprocess.run(['/bin/sh', runfile('deploy/make-dev-secrets.sh'), directory],
                            env=base_env(), capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError('make-dev-secrets.sh failed: %s' % result.stderr)
    files = {name: os.path.join(directory, name)
             for name in ('ca.pem', 'tls.crt', 'tls.key', 'tokens', 'client-token')}
    with open(files['client-token']) as f:
        files['token'] = f.read().strip()
    return files


def kubernetes_objects():
    """{kind: object} of every manifest in deploy/kubernetes but the Kustomization (one
    object per kind there)."""
    import yaml
    objects = {}
    directory = runfile('deploy/kubernetes')
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc.get('kind') != 'Kustomization':
                    objects[doc['kind']] = doc
    return objects


def kubernetes_pod_files(work, dev_secrets, secret_values=None):
    """Lays out here what cellgw's pod sees (deploy/kubernetes): the ConfigMap's config at
    its subPath, each Secret volume's files under its mountPath (from the Secret manifest's
    stringData, or, for the Secrets the operator creates, cellgw-tls and cellgw-tokens,
    from `dev_secrets` as make_dev_secrets returns them), and the Deployment's environment.
    Every mount path becomes a directory under `work`, in the config and the variables
    alike. `secret_values` replaces stringData values by key (a real broker URL).

    Returns (config path, environment without CELLGW_CONFIG, {volume name: local dir})."""
    objects = kubernetes_objects()
    pod = objects['Deployment']['spec']['template']['spec']
    [container] = pod['containers']
    mounts = {m['name']: m for m in container['volumeMounts']}
    created = {'cellgw-tls': {'tls.crt': dev_secrets['tls.crt'],
                              'tls.key': dev_secrets['tls.key']},
               'cellgw-tokens': {'tokens': dev_secrets['tokens']}}
    manifest_secret = objects['Secret']
    replacements = {}
    directories = {}
    config_text = None
    for volume in pod['volumes']:
        mount = mounts[volume['name']]
        if 'configMap' in volume:
            config_map = objects['ConfigMap']
            assert volume['configMap']['name'] == config_map['metadata']['name']
            config_text = config_map['data'][mount['subPath']]
            continue
        secret_name = volume['secret']['secretName']
        local = os.path.join(work, mount['mountPath'].lstrip('/'))
        os.makedirs(local, exist_ok=True)
        directories[volume['name']] = local
        replacements[mount['mountPath']] = local
        if secret_name == manifest_secret['metadata']['name']:
            values = dict(manifest_secret['stringData'])
            values.update(secret_values or {})
            for key, value in values.items():
                write_file(os.path.join(local, key), value, 0o600)
        else:
            for item in volume['secret']['items']:
                with open(created[secret_name][item['key']]) as f:
                    write_file(os.path.join(local, item['path']), f.read(), 0o600)

    def localise(text):
        for mount_path, local in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(mount_path + '/', local + '/')
        return text

    config = write_file(os.path.join(work, 'cellgw.yaml'), localise(config_text))
    env = {e['name']: localise(e['value']) for e in container['env']
           if e['name'] != 'CELLGW_CONFIG'}
    return config, env, directories


def substitute_secret_paths(config_text, paths):
    """`config_text` with each /run/secrets/<name> of `paths` ({name: local file}) replaced,
    as compose would mount it."""
    for name, path in paths.items():
        config_text = config_text.replace('/run/secrets/%s\n' % name, path + '\n')
    return config_text


def tls_channel(address, ca_file):
    """A gRPC channel over TLS to `address` trusting `ca_file`, for the name localhost (the
    development certificate's)."""
    with open(ca_file, 'rb') as f:
        credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    return grpc.secure_channel(address, credentials,
                               options=[('grpc.ssl_target_name_override', 'localhost')])


RFC3339_UTC = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
GENERATED_REQUEST_ID = re.compile(
    r'^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')


class OpsTestCase(unittest.TestCase):
    """Stops whatever a test class started, in reverse order, by PID."""

    @classmethod
    def start_broker(cls, name='rmq'):
        node = PrivateRabbitMQ(tmpdir(name))
        cls.addClassCleanup(node.stop)
        node.start()
        return node

    @classmethod
    def start_child(cls, child):
        cls.addClassCleanup(child.stop)
        return child


def main():
    unittest.main(verbosity=2)
