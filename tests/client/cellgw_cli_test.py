#!/usr/bin/python3 -B
"""cellgw-cli's command line (client/cellgw_cli.cc): --help and -h print the usage with every
option and exit 0; usage errors print why and exit 2; an error status exits 1; the options
and CELLGW_ADDR reach the request.

The requests go to the real cellgw binary, serving one cell whose broker address refuses
connections (no broker is needed): list-cells answers from the gateway alone, and a request
that passes validation ends UNAVAILABLE, while a malformed one ends INVALID_ARGUMENT naming
the field, which shows that the option reached that field."""

import json
import os
import socket
import subprocess
import threading
import unittest

WORKSPACE = os.environ.get('TEST_WORKSPACE', 'cellgw')
OPTIONS = ['--addr', '--auto-ack', '--ca-file', '--call-monitor-timeout', '--cell',
           '--cert-file', '--context', '--count', '--deadline', '--event-types', '--exchange',
           '--key-file', '--max-unacked', '--namespace', '--pool', '--priorities', '--priority',
           '--publisher-id', '--request-id', '--server', '--timeout', '--token', '--topic',
           '--topics', '--version']


def runfile(relative):
    for root in (os.environ.get('RUNFILES_DIR'), os.environ.get('TEST_SRCDIR')):
        if root and os.path.exists(os.path.join(root, WORKSPACE, relative)):
            return os.path.join(root, WORKSPACE, relative)
    raise FileNotFoundError('%s is not in the runfiles' % relative)


def cli(*args, env=None):
    environment = {'PATH': '/usr/bin:/bin'}
    environment.update(env or {})
    return subprocess.run([runfile('client/cellgw-cli')] + list(args), capture_output=True,
                          text=True, env=environment, timeout=60)


class UsageTest(unittest.TestCase):

    def test_help_prints_the_usage_with_every_option_and_exits_0(self):
        for flag in ('--help', '-h'):
            done = cli(flag)
            self.assertEqual(done.returncode, 0, flag)
            self.assertEqual(done.stderr, '')
            self.assertTrue(done.stdout.startswith('usage:\n'), done.stdout)
            for command in ('call', 'cast', 'fanout', 'list-cells'):
                self.assertIn('cellgw-cli [--addr HOST:PORT] %s' % command, done.stdout)
            listed = [line.split()[0] for line in done.stdout.split('options:\n')[1].splitlines()]
            self.assertEqual(listed, OPTIONS)
            self.assertIn('$CELLGW_ADDR', done.stdout)

    def test_help_wins_over_a_later_usage_error_only(self):
        self.assertEqual(cli('--help', '--bogus', 'x').returncode, 0)
        self.assertEqual(cli('--bogus', 'x', '--help').returncode, 2)

    def test_usage_errors_exit_2_with_the_reason_and_the_usage_on_stderr(self):
        cases = [
            (['--bogus', 'x', 'list-cells'], 'unknown option --bogus'),
            (['list-cells', '--topic'], '--topic needs a value'),
            # Only the documented spellings: not Abseil's flag names.
            (['--call_monitor_timeout', '3', 'call', 'm'], 'unknown option --call_monitor_timeout'),
            (['--api_version', '1.0', 'call', 'm'], 'unknown option --api_version'),
            (['--helpfull', 'x'], 'unknown option --helpfull'),
            ([], 'no command given'),
            (['frob'], "unknown command 'frob'"),
            (['call'], 'call needs METHOD'),
            (['cast', '--topic', 't'], 'cast needs METHOD'),
            (['fanout'], 'fanout needs METHOD'),
            (['call', 'm', '--timeout', 'soon'], '--timeout: not a number of seconds'),
            (['call', 'm', '--call-monitor-timeout='], '--call-monitor-timeout: not a number'),
            (['list-cells', '--deadline', 'x'], '--deadline: not a number of seconds'),
        ]
        for args, why in cases:
            done = cli(*args)
            self.assertEqual(done.returncode, 2, (args, done.stderr))
            self.assertEqual(done.stdout, '', args)
            self.assertTrue(done.stderr.startswith('cellgw-cli: ' + why), (args, done.stderr))
            self.assertIn('\nusage:\n', done.stderr, args)


class AgainstGatewayTest(unittest.TestCase):
    """The real cellgw; its one cell's broker port refuses connections."""

    @classmethod
    def setUpClass(cls):
        # A bound socket that never listens: connecting to it is refused.
        cls.no_broker = socket.socket()
        cls.no_broker.bind(('127.0.0.1', 0))
        broker_port = cls.no_broker.getsockname()[1]
        cls.url = 'rabbit://guest:***@127.0.0.1:%d/cell1' % broker_port
        config = os.path.join(os.environ['TEST_TMPDIR'], 'cellgw.yaml')
        with open(config, 'w') as f:
            f.write('listen: 127.0.0.1:0\ncells:\n  - name: cell1\n'
                    '    transport_url: rabbit://guest:secret@127.0.0.1:%d/cell1\n'
                    '    control_exchange: nova\n' % broker_port)
        cls.gateway = subprocess.Popen([runfile('gateway/cellgw'), '--config', config],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
        port = None
        for line in cls.gateway.stderr:  # ends (and fails below) if cellgw exits
            record = json.loads(line)
            if record.get('message') == 'cellgw serving':
                port = record['port']
                break
        # Keep reading its log so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in cls.gateway.stderr], daemon=True).start()
        if port is None:
            cls.tearDownClass()
            raise AssertionError('cellgw exited before serving')
        cls.addr = '127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.gateway.terminate()
        cls.gateway.wait(timeout=60)
        cls.no_broker.close()

    def expect(self, done, code, stdout=None, stderr_has=None):
        self.assertEqual(done.returncode, code, done.stderr)
        if stdout is not None:
            self.assertEqual(done.stdout, stdout)
        if stderr_has is not None:
            self.assertIn(stderr_has, done.stderr)

    def test_list_cells_prints_the_cells_and_exits_0(self):
        line = 'cell1\tdisconnected\tcontrol_exchange=nova\t%s\n' % self.url
        self.expect(cli('--addr', self.addr, 'list-cells'), 0, stdout=line)
        self.expect(cli('list-cells', '--addr=' + self.addr), 0, stdout=line)

    def test_address_comes_from_cellgw_addr_unless_addr_is_given(self):
        line = 'cell1\tdisconnected\tcontrol_exchange=nova\t%s\n' % self.url
        self.expect(cli('list-cells', env={'CELLGW_ADDR': self.addr}), 0, stdout=line)
        refused = cli('--addr', self.no_broker_addr(), '--deadline', '5', 'list-cells',
                      env={'CELLGW_ADDR': self.addr})
        self.expect(refused, 1, stdout='', stderr_has='UNAVAILABLE')

    def no_broker_addr(self):
        return '127.0.0.1:%d' % self.no_broker.getsockname()[1]

    def test_request_that_fails_exits_1_with_the_status(self):
        # Valid in every field, with every option: only the missing broker stops it.
        done = cli('--addr', self.addr, 'call', '--cell', 'cell1', '--topic', 'compute',
                   '--exchange', 'nova', '--namespace', 'ns', '--version', '1.2', '--server',
                   'host1', '--context', '{"user_id": "u1"}', '--timeout', '2.5',
                   '--call-monitor-timeout', '3', '--deadline', '30', '--request-id', 'req-1',
                   'get_host_info', '{"x": 1}')
        self.expect(done, 1, stdout='', stderr_has='UNAVAILABLE')
        for command in ('cast', 'fanout'):
            done = cli('--addr', self.addr, command, '--topic', 'compute', 'm', '{}')
            self.expect(done, 1, stdout='', stderr_has='UNAVAILABLE')

    def test_notify_and_subscribe_options_reach_their_fields(self):
        notify = ['--addr', self.addr, 'notify', '--topic', 'notifications']
        self.expect(cli(*notify, 'compute.x'), 1, stdout='', stderr_has='publisher_id')
        self.expect(cli(*notify, '--publisher-id', 'compute.h1', '--priority', 'loud',
                        'compute.x'), 1, stdout='', stderr_has='priority')
        self.expect(cli(*notify, '--publisher-id', 'compute.h1', 'compute.x', '[1'), 1,
                    stdout='', stderr_has='payload_json')
        # Valid in every field: only the missing broker stops it.
        self.expect(cli(*notify, '--publisher-id', 'compute.h1', '--priority', 'ERROR',
                        '--context', '{"user_id": "u1"}', 'compute.x', '{"n": 1}'), 1,
                    stdout='', stderr_has='UNAVAILABLE')
        subscribe = ['--addr', self.addr, 'subscribe']
        self.expect(cli(*subscribe, '--priorities', 'info,loud'), 1, stdout='',
                    stderr_has='priorities')
        self.expect(cli(*subscribe, '--max-unacked', 'many'), 2, stdout='',
                    stderr_has='--max-unacked')
        self.expect(cli(*subscribe, '--auto-ack', '--count', '-1'), 2, stdout='',
                    stderr_has='--count')
        self.expect(cli('--addr', self.addr, 'notify'), 2, stdout='',
                    stderr_has='notify needs EVENT_TYPE')

    def test_each_option_reaches_its_request_field(self):
        def call(*args):
            return cli('--addr', self.addr, 'call', '--topic', 'compute', 'm', *args)
        cases = [
            (['--cell', 'nowhere'], 'NOT_FOUND'),
            (['--version', '1.x'], 'target.version'),
            (['--server', 's' * 300], 'target.server'),
            (['--exchange', 'e' * 300], 'target.exchange'),
            (['--context', '[1]'], 'context_json'),
            (['[1]'], 'args_json'),
            (['{}', '--timeout', '-1'], 'timeout'),
            (['{}', '--call-monitor-timeout', '-1'], 'call_monitor_timeout'),
        ]
        for args, field in cases:
            self.expect(call(*args), 1, stdout='', stderr_has=field)
        self.expect(cli('--addr', self.addr, 'call', 'm'), 1, stderr_has='target.topic')

    def test_argument_after_double_dash_and_single_dash_arguments_are_positional(self):
        done = cli('--addr', self.addr, 'call', '--topic', 'compute', '--', '--m', '[1]')
        self.expect(done, 1, stderr_has='args_json')
        done = cli('--addr', self.addr, 'call', '--topic', 'compute', '-m', '[1]')
        self.expect(done, 1, stderr_has='args_json')


if __name__ == '__main__':
    unittest.main(verbosity=2)
