#!/usr/bin/python3
"""The example commands of every language (cellgw-cli, client/go, client/node) against a
real gateway: each must take the same arguments and settings and print and exit alike.

    client_commands_test.py cli|go|node

Part of tests/clients; Bazel runs it through run_client_test.sh (sh_tests
//tests/clients:cli_client_test, :go_client_test and :node_client_test, tag "integration") under
/usr/bin/python3, which has python3-grpcio (for the health watch) and oslo.messaging.

Everything is real and private to the test: a RabbitMQ node (tests/support/rabbitmq_node.py),
one oslo.messaging RPC server (tests/support/oslo_server.py: topic "compute", server "host1",
exchange "nova"), and two cellgw gateways on it: one plaintext, one with TLS (optional client
certificates), bearer tokens and a policy, its certificates made here with openssl. The
client is built the way a user builds it: cellgw-cli by Bazel, client/go/build.sh (Debian's
Go packages, offline; the user's Go build cache) or client/node/install.sh (`npm ci` from the
lockfile).
Each test runs the example command as a user would, checks its stdout, stderr and exit
status, and for casts and fanouts that the oslo server received the message. Every process
started here is stopped by PID in tearDownClass.

unittest's report goes to stdout; under Bazel one JUnit <testcase> per test method goes to
$XML_OUTPUT_FILE, so the suite counts each of them.

Outside Bazel, after `bazel build //gateway:cellgw`:
    /usr/bin/python3 tests/clients/client_commands_test.py go
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid


# tests/support, beside this directory in the source tree and in the runfiles.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from python_test_tree import tree_root, wait_cell_serving  # noqa: E402

SOURCE_ROOT, OUTPUT_ROOT = tree_root()
CELLGW = os.path.join(OUTPUT_ROOT, 'gateway', 'cellgw')
SUPPORT = os.path.join(SOURCE_ROOT, 'tests', 'support')
PROTO_DIR = os.path.join(SOURCE_ROOT, 'proto')
PYTHON = '/usr/bin/python3'
sys.path.insert(0, SUPPORT)

import grpc  # noqa: E402

import junit_report  # noqa: E402
import rabbitmq_node  # noqa: E402
from child_processes import OsloServerEvents, die_with_parent, stop  # noqa: E402

CELL = 'cell1'
VHOST = 'clients'
GATEWAY_USER = 'cellgw'
GATEWAY_PASSWORD = 'cl-Secret-9e1b'
SERVER = 'host1'
TOKEN = 'client-token-5b7d0c2e9f31a846'
CLIENT_SUBJECT = 'CN=client1,O=cellgw test'
STARTUP_TIMEOUT_S = 120
BUILD_TIMEOUT_S = 600   # a cold Go build of grpc-go on two busy cores
COMMAND_TIMEOUT_S = 60
HEX32 = r'[0-9a-f]{32}'


def _tail(path, limit=3000):
    try:
        with open(path, 'rb') as f:
            return f.read()[-limit:].decode('utf-8', 'replace')
    except OSError:
        return ''


def _openssl(workdir, *args):
    env = {k: v for k, v in os.environ.items() if k != 'OPENSSL_CONF'}
    subprocess.run(('/usr/bin/openssl',) + args, cwd=workdir, env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _make_pki(workdir):
    """A CA, the secure gateway's certificate (127.0.0.1) and a client certificate
    (CLIENT_SUBJECT), as PEM files in `workdir`; returns their paths."""
    os.makedirs(workdir)
    ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes')
    _openssl(workdir, 'req', '-x509', '-new', *ec, '-keyout', 'ca.key', '-out', 'ca.pem',
             '-days', '2', '-subj', '/CN=cellgw clients test CA',
             '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    paths = {'ca': os.path.join(workdir, 'ca.pem')}
    for stem, subject, san in (('gateway', '/CN=cellgw gateway', 'DNS:localhost,IP:127.0.0.1'),
                               ('client', '/O=cellgw test/CN=client1', None)):
        with open(os.path.join(workdir, stem + '.ext'), 'w') as f:
            f.write('basicConstraints=critical,CA:FALSE\n'
                    'keyUsage=critical,digitalSignature,keyEncipherment\n'
                    'extendedKeyUsage=serverAuth,clientAuth\n')
            if san:
                f.write('subjectAltName=%s\n' % san)
        _openssl(workdir, 'req', '-new', *ec, '-keyout', stem + '.key', '-out', stem + '.csr',
                 '-subj', subject)
        _openssl(workdir, 'x509', '-req', '-in', stem + '.csr', '-CA', 'ca.pem', '-CAkey',
                 'ca.key', '-CAcreateserial', '-days', '2', '-out', stem + '.pem', '-extfile',
                 stem + '.ext')
        paths[stem + '_cert'] = os.path.join(workdir, stem + '.pem')
        paths[stem + '_key'] = os.path.join(workdir, stem + '.key')
    return paths


class Client(object):
    """How to build and run one language's example command."""

    def __init__(self, language, workdir):
        self.language = language
        self.program = {'cli': 'cellgw-cli', 'go': 'cellgw-go', 'node': 'cellgw-node'}[language]
        self.dir = os.path.join(SOURCE_ROOT, 'client', '' if language == 'cli' else language)
        self.env = dict(os.environ, CELLGW_PROTO_DIR=PROTO_DIR)
        if language == 'cli':
            self.prepare_argv = None   # Bazel built it: a data dependency of the test
        elif language == 'go':
            # Go's build cache is content-addressed and safe to share: the user's
            # (~/.cache/go-build) spares every run a cold build of grpc-go.
            self.env.update(CELLGW_GO_WORK=os.path.join(workdir, 'go-work'))
            self.prepare_argv = [os.path.join(self.dir, 'build.sh')]
        else:
            self.env.update(CELLGW_NODE_WORK=os.path.join(workdir, 'node-work'))
            self.prepare_argv = [os.path.join(self.dir, 'install.sh')]
        for name in ('CELLGW_ADDR', 'CELLGW_CA_FILE', 'CELLGW_CERT_FILE', 'CELLGW_KEY_FILE',
                     'CELLGW_TOKEN'):
            self.env.pop(name, None)   # the caller's settings must not leak into the tests
        self.built = None   # the binary (Go) or the installed package directory (Node)

    def start_preparing(self, log):
        """Starts build.sh / install.sh; finish_preparing() waits for it."""
        if self.prepare_argv is None:
            return None
        return subprocess.Popen(self.prepare_argv, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=log, preexec_fn=die_with_parent)

    def finish_preparing(self, proc, log_path):
        if proc is None:
            self.built = os.path.join(OUTPUT_ROOT, 'client', 'cellgw-cli')
            return
        try:
            out, _ = proc.communicate(timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError('%s took over %d s:\n%s' % (
                self.prepare_argv[0], BUILD_TIMEOUT_S, _tail(log_path)))
        if proc.returncode != 0:
            raise AssertionError('%s exited %d:\n%s' % (
                self.prepare_argv[0], proc.returncode, _tail(log_path)))
        self.built = out.decode().strip()

    def argv(self, args):
        """The example command with `args`, as run.sh would run it after building."""
        if self.language in ('cli', 'go'):
            return [self.built] + list(args)
        return ['/usr/bin/node', os.path.join(self.built, 'bin', 'cellgw-node.js')] + list(args)

    def unit_test_commands(self):
        """The language's own tests of the client, each as (name, argv, cwd)."""
        if self.language == 'cli':
            return []   # C++: //tests/client:cellgw_cli_test, a Bazel target of its own
        if self.language == 'go':
            build = self.prepare_argv[0]
            return [('go vet', [build, '--go', 'vet', './...'], None),
                    ('go test', [build, '--go', 'test', './...'], None)]
        return [('npm test', ['npm', 'test'], self.built),
                ('npm run typecheck', ['npm', 'run', 'typecheck'], self.built)]


class ClientCommandTest(unittest.TestCase):
    LANGUAGE = None   # set by main()

    @classmethod
    def setUpClass(cls):
        cls.broker = cls.oslo = cls.gateway = cls.secure_gateway = cls.preparing = None
        cls.workdir = tempfile.mkdtemp(prefix='clients.', dir=os.environ.get('TEST_TMPDIR'))
        cls.client = Client(cls.LANGUAGE, cls.workdir)
        try:
            cls._start()
        except BaseException:
            cls._stop_all()
            raise

    @classmethod
    def _start(cls):
        # The build runs while the broker, the oslo server and the gateways start.
        build_log = os.path.join(cls.workdir, 'build.log')
        with open(build_log, 'wb') as log:
            cls.preparing = cls.client.start_preparing(log)
        cls.pki = _make_pki(os.path.join(cls.workdir, 'pki'))
        cls.broker = rabbitmq_node.PrivateRabbitMQ(os.path.join(cls.workdir, 'rabbitmq'))
        cls.broker.start()
        cls.broker.add_vhost(VHOST)
        # The gateways have their own user, so redaction is checked on a password that
        # appears nowhere else in the URL.
        cls.broker.ctl('add_user', GATEWAY_USER, GATEWAY_PASSWORD)
        cls.broker.ctl('set_permissions', '-p', VHOST, GATEWAY_USER, '.*', '.*', '.*')

        with open(os.path.join(cls.workdir, 'oslo_server.stderr'), 'wb') as err:
            cls.oslo = subprocess.Popen(
                [PYTHON, os.path.join(SUPPORT, 'oslo_server.py'), '--url', cls.broker.url(VHOST),
                 '--topic', 'compute', '--server', SERVER, '--exchange', 'nova'],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                preexec_fn=die_with_parent)
        cls.events = OsloServerEvents(cls.oslo.stdout)
        cls.events.wait_for(lambda e: e.get('event') == 'ready', timeout=STARTUP_TIMEOUT_S)

        cls.url = 'rabbit://%s:%s@127.0.0.1:%d/%s' % (
            GATEWAY_USER, GATEWAY_PASSWORD, cls.broker.amqp_port, VHOST)
        cls.addr, cls.gateway = cls._start_gateway('plain', '')
        tokens = os.path.join(cls.workdir, 'tokens')
        with open(os.open(tokens, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
            f.write('clients %s\n' % TOKEN)
        grant = '      cells: ["*"]\n      topics: [compute]\n      methods: ["*"]\n'
        cls.secure_addr, cls.secure_gateway = cls._start_gateway('secure', (
            'security:\n'
            '  tls: {cert_file: %s, key_file: %s, client_ca_file: %s, require_client_cert: false}\n'
            '  tokens_file: %s\n'
            '  policy:\n'
            '    - identity: clients\n%s'
            '    - subject: "%s"\n%s') % (
                cls.pki['gateway_cert'], cls.pki['gateway_key'], cls.pki['ca'], tokens, grant,
                CLIENT_SUBJECT, grant))
        cls.client.finish_preparing(cls.preparing, build_log)

    @classmethod
    def _start_gateway(cls, name, security_yaml):
        addr = '127.0.0.1:%d' % rabbitmq_node.free_port()
        config = os.path.join(cls.workdir, name + '.yaml')
        with open(config, 'w') as f:
            f.write('listen: %s\ncells:\n  - name: %s\n    transport_url: %s\n'
                    '    control_exchange: nova\n%s' % (addr, CELL, cls.url, security_yaml))
        log = os.path.join(cls.workdir, name + '.log')
        with open(log, 'wb') as out:
            gateway = subprocess.Popen([CELLGW, '--config', config], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT,
                                       preexec_fn=die_with_parent)
        if security_yaml:
            with open(cls.pki['ca'], 'rb') as f:
                channel = grpc.secure_channel(addr, grpc.ssl_channel_credentials(f.read()))
        else:
            channel = grpc.insecure_channel(addr)
        try:
            wait_cell_serving(channel, CELL, gateway, STARTUP_TIMEOUT_S,
                              lambda: ':\n' + _tail(log))
        finally:
            channel.close()
        return addr, gateway

    @classmethod
    def tearDownClass(cls):
        cls._stop_all()

    @classmethod
    def _stop_all(cls):
        stop(cls.preparing)
        stop(cls.secure_gateway)
        stop(cls.gateway)
        stop(cls.oslo)
        if cls.broker is not None:
            cls.broker.stop()
        if not os.environ.get('TEST_TMPDIR'):   # Bazel cleans its own temp dir
            shutil.rmtree(cls.workdir, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------

    def run_command(self, *args, env=None, argv=None):
        """Runs the example command (or `argv`) on the plaintext gateway unless args or env
        name another; returns the CompletedProcess with text stdout/stderr."""
        full_env = dict(self.client.env, **(env or {}))
        if argv is None:
            argv = self.client.argv(args)
        return subprocess.run(argv, env=full_env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=COMMAND_TIMEOUT_S, encoding='utf-8')

    def assert_exit(self, result, code):
        self.assertEqual(result.returncode, code,
                         'exit status %d, stdout %r, stderr %r' % (
                             result.returncode, result.stdout, result.stderr))

    def prefix(self):
        return self.client.program + ': '

    def assert_unique_id(self, result):
        self.assert_exit(result, 0)
        self.assertRegex(result.stdout, r'^\{"unique_id": "%s"\}\n$' % HEX32)
        self.assertEqual(result.stderr, '')

    # -- the example command: call, cast, fanout, list-cells --------------------------------

    def test_run_sh_builds_and_runs_a_call(self):
        if self.LANGUAGE == 'cli':
            self.skipTest('cellgw-cli has no run.sh: `bazel build //client:cellgw-cli` builds it')
        run_sh = os.path.join(self.client.dir, 'run.sh')
        args = {'n': 2 ** 64 - 1, 'text': 'caf\u00e9'}
        context = {'user_id': 'u-' + self.LANGUAGE, 'roles': ['admin']}
        result = self.run_command(argv=[
            run_sh, '--addr', self.addr, 'call', '--cell', CELL, '--topic', 'compute', 'echo',
            json.dumps(args), '--context', json.dumps(context), '--request-id', 'req-run-sh'])
        self.assert_exit(result, 0)
        self.assertTrue(result.stdout.endswith('}\n'), result.stdout)
        reply = json.loads(result.stdout)
        self.assertEqual(reply['kw'], args)
        self.assertEqual(reply['server'], SERVER)
        # The context key for key; the caller's x-request-id becomes its request_id.
        ctxt = {k: v for k, v in reply['ctxt'].items() if k != 'client_timeout'}
        self.assertEqual(ctxt, dict(context, request_id='req-run-sh'))

    def test_call_prints_the_result_json_exactly(self):
        result = self.run_command('--addr', self.addr, 'call', '--topic', 'compute', 'big')
        self.assert_exit(result, 0)
        self.assertEqual(result.stderr, '')
        # The server's text, digits and escapes as sent: no number ever became a float.
        self.assertIn('"u64max": 18446744073709551615', result.stdout)
        self.assertIn('"big70": 1180591620717411303424', result.stdout)
        self.assertIn('h\\u00e9llo \\u2603', result.stdout)
        self.assertEqual(json.loads(result.stdout)['nested'], [[[[{'deep': [None, True, False, 1.5]}]]]])

    def test_call_to_a_server_with_version_and_timeout_flags(self):
        result = self.run_command('--addr', self.addr, 'call', '--topic', 'compute', '--server',
                                  SERVER, '--version', '1.3', '--exchange', 'nova', '--timeout',
                                  '20', 'echo', '{"v": 1}')
        self.assert_exit(result, 0)
        self.assertEqual(json.loads(result.stdout)['kw'], {'v': 1})
        result = self.run_command('--addr', self.addr, 'call', '--topic', 'compute',
                                  '--namespace', 'admin', '--version', '2.0', 'ns_only')
        self.assert_exit(result, 0)
        self.assertEqual(result.stdout, '"from admin namespace"\n')

    def test_cast_reaches_the_oslo_server(self):
        marker = uuid.uuid4().hex
        result = self.run_command('--addr', self.addr, 'cast', '--topic', 'compute', 'note',
                                  json.dumps({'marker': marker}), '--context',
                                  '{"request_id": "req-cast"}')
        self.assert_unique_id(result)
        event = self.events.wait_for(
            lambda e: e.get('event') == 'cast' and e['kw'].get('marker') == marker)
        self.assertEqual(event['server'], SERVER)
        self.assertEqual(event['ctxt'].get('request_id'), 'req-cast')

    def test_fanout_reaches_the_oslo_server(self):
        marker = uuid.uuid4().hex
        result = self.run_command('--addr', self.addr, 'fanout', '--topic', 'compute', 'note',
                                  json.dumps({'marker': marker}))
        self.assert_unique_id(result)
        event = self.events.wait_for(
            lambda e: e.get('event') == 'cast' and e['kw'].get('marker') == marker)
        self.assertEqual(event['server'], SERVER)

    def test_list_cells_prints_the_cell_with_its_password_redacted(self):
        result = self.run_command('--addr', self.addr, 'list-cells')
        self.assert_exit(result, 0)
        self.assertEqual(result.stdout, '%s\tconnected\tcontrol_exchange=nova\t'
                         'rabbit://%s:***@127.0.0.1:%d/%s\n' % (
                             CELL, GATEWAY_USER, self.broker.amqp_port, VHOST))
        self.assertNotIn(GATEWAY_PASSWORD, result.stdout + result.stderr)

    # -- errors --------------------------------------------------------------------------------

    def test_remote_exception_prints_its_fields_and_exits_1(self):
        result = self.run_command('--addr', self.addr, 'call', '--topic', 'compute',
                                  'fail_custom')
        self.assert_exit(result, 1)
        self.assertEqual(result.stdout, '')
        lines = result.stderr.split('\n')
        message = 'Quota exceeded for cores: requested 8'
        self.assertEqual(lines[:3], [
            self.prefix() + 'UNKNOWN: cellgw_test_exc.CellQuotaExceeded: ' + message,
            'remote exception: cellgw_test_exc.CellQuotaExceeded',
            'message: ' + message])
        self.assertTrue(lines[3].startswith('args: ') and lines[4].startswith('kwargs: '), lines)
        self.assertEqual(json.loads(lines[3][len('args: '):]), [message])
        self.assertEqual(json.loads(lines[4][len('kwargs: '):]), {'resource': 'cores', 'requested': 8})
        self.assertEqual(lines[5], 'traceback:')
        self.assertTrue(any('fail_custom' in line for line in lines[6:]), result.stderr)
        self.assertTrue(result.stderr.endswith('\n'))

    def test_unknown_method_is_unimplemented_with_no_such_method(self):
        result = self.run_command('--addr', self.addr, 'call', '--topic', 'compute', 'no_such_rpc')
        self.assert_exit(result, 1)
        self.assertTrue(result.stderr.startswith(self.prefix() + 'UNIMPLEMENTED: '), result.stderr)
        self.assertIn('\nremote exception: oslo_messaging.rpc.dispatcher.NoSuchMethod\n', result.stderr)

    def test_error_status_without_remote_exception(self):
        result = self.run_command('--addr', self.addr, 'cast', '--topic', 'compute', 'note',
                                  '[1, 2]')
        self.assert_exit(result, 1)
        self.assertRegex(result.stderr, '^%sINVALID_ARGUMENT: args_json[^\n]*\n$' % re.escape(self.prefix()))

    def test_deadline_flag_ends_a_slow_call(self):
        started = time.monotonic()
        result = self.run_command('--addr', self.addr, 'call', '--topic', 'compute', 'slow',
                                  '{"seconds": 10}', '--deadline', '1')
        elapsed = time.monotonic() - started
        self.assert_exit(result, 1)
        self.assertTrue(result.stderr.startswith(self.prefix() + 'DEADLINE_EXCEEDED: '), result.stderr)
        # 1 s of deadline plus the command's start-up (slow on a loaded machine), well
        # before the method's 10 s.
        self.assertLess(elapsed, 8, 'the command ended after %.1f s' % elapsed)

    def test_usage_errors_exit_2_with_the_usage(self):
        for args, why in (((), 'no command given'),
                          (('frobnicate',), "unknown command 'frobnicate'"),
                          (('call', '--topic', 'compute'), 'call needs METHOD'),
                          (('cast', '--topc', 'compute', 'note'), 'unknown option --topc'),
                          (('call', '--topic', 'compute', 'echo', '--deadline', 'soon'),
                           '--deadline: not a number of seconds'),
                          (('list-cells', '--addr'), '--addr needs a value')):
            with self.subTest(args=args):
                result = self.run_command(*args)   # nothing to connect to: bad input first
                self.assert_exit(result, 2)
                self.assertEqual(result.stdout, '')
                self.assertTrue(result.stderr.startswith(self.prefix() + why + '\nusage:\n'),
                                result.stderr)
        result = self.run_command('--help')
        self.assert_exit(result, 0)
        self.assertTrue(result.stdout.startswith('usage:\n'), result.stdout)

    # -- connection settings: flags and CELLGW_* variables ---------------------------------

    def test_address_from_cellgw_addr_and_a_flag_beats_it(self):
        result = self.run_command('list-cells', env={'CELLGW_ADDR': self.addr})
        self.assert_exit(result, 0)
        self.assertTrue(result.stdout.startswith(CELL + '\tconnected\t'), result.stdout)
        unused = '127.0.0.1:%d' % rabbitmq_node.free_port()
        result = self.run_command('--addr', self.addr, 'list-cells', env={'CELLGW_ADDR': unused})
        self.assert_exit(result, 0)
        result = self.run_command('list-cells', env={'CELLGW_ADDR': unused})
        self.assert_exit(result, 1)
        self.assertTrue(result.stderr.startswith(self.prefix() + 'UNAVAILABLE: '), result.stderr)

    def test_tls_and_token_from_the_environment(self):
        marker = uuid.uuid4().hex
        result = self.run_command('cast', '--topic', 'compute', 'note',
                                  json.dumps({'marker': marker}), env={
                                      'CELLGW_ADDR': self.secure_addr,
                                      'CELLGW_CA_FILE': self.pki['ca'], 'CELLGW_TOKEN': TOKEN})
        self.assert_unique_id(result)
        self.events.wait_for(lambda e: e.get('event') == 'cast' and e['kw'].get('marker') == marker)

    def test_tls_client_certificate_from_flags(self):
        result = self.run_command('--addr', self.secure_addr, '--ca-file', self.pki['ca'],
                                  '--cert-file', self.pki['client_cert'], '--key-file',
                                  self.pki['client_key'], 'call', '--topic', 'compute', 'echo',
                                  '{"via": "certificate"}')
        self.assert_exit(result, 0)
        self.assertEqual(json.loads(result.stdout)['kw'], {'via': 'certificate'})

    def test_secure_gateway_refuses_missing_or_wrong_credentials(self):
        for name, extra in (('no credentials', ()),
                            ('wrong token', ('--token', 'not-the-token-0000000000'))):
            with self.subTest(name):
                result = self.run_command('--addr', self.secure_addr, '--ca-file', self.pki['ca'],
                                          *extra, 'call', '--topic', 'compute', 'echo')
                self.assert_exit(result, 1)
                self.assertTrue(result.stderr.startswith(self.prefix() + 'UNAUTHENTICATED: '),
                                result.stderr)
        # Plaintext against a TLS gateway never gets to a request.
        result = self.run_command('--addr', self.secure_addr, '--token', TOKEN, 'call',
                                  '--topic', 'compute', 'echo')
        self.assert_exit(result, 1)
        self.assertTrue(result.stderr.startswith(self.prefix() + 'UNAVAILABLE: '), result.stderr)

    # -- the language's own tests ------------------------------------------------------------

    def test_language_unit_tests_and_checks_pass(self):
        if not self.client.unit_test_commands():
            self.skipTest('no language-level tests here for %s' % self.client.program)
        for name, argv, cwd in self.client.unit_test_commands():
            with self.subTest(name):
                result = subprocess.run(argv, cwd=cwd, env=self.client.env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S,
                                        encoding='utf-8')
                print('--- %s\n%s' % (name, result.stdout))
                self.assertEqual(result.returncode, 0, '%s failed:\n%s' % (name, result.stdout))


def main(argv):
    if len(argv) != 2 or argv[1] not in ('cli', 'go', 'node'):
        sys.stderr.write('usage: client_commands_test.py cli|go|node\n')
        return 2
    ClientCommandTest.LANGUAGE = argv[1]
    return junit_report.run(ClientCommandTest, '%s_client_test' % argv[1])


if __name__ == '__main__':
    sys.exit(main(sys.argv))
