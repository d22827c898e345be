#!/usr/bin/python3 -B
"""`cellgw --check-config FILE` and `cellgw --config FILE` on bad input: the real binary
exits 2 with a message naming the offending YAML key path or environment variable, never
showing a password; a good file (alone, or completed by the environment) exits 0."""

import json
import os
import subprocess
import unittest

import ops_support
from ops_support import runfile, tmpdir, write_file

PASSWORD = 'Sup3r-s3cret-pw'
URL = 'rabbit://nova:%s@127.0.0.1:5672/' % PASSWORD

GOOD = """listen: 127.0.0.1:50051
metrics_listen: 127.0.0.1:9464
cells:
  - name: cell1
    transport_url: %s
    control_exchange: nova
""" % URL

# (name, YAML, text the message must contain: the key path and why)
BAD_FILES = [
    ('unknown_top_level_key', 'listn: 127.0.0.1:1\n' + GOOD, 'listn: unknown key'),
    ('listen_without_port', GOOD.replace('127.0.0.1:50051', 'localhost'),
     'listen: must be host:port'),
    ('metrics_listen_bad_port', GOOD.replace('127.0.0.1:9464', '127.0.0.1:99999'),
     'metrics_listen: must be host:port'),
    ('log_level_unknown', 'log_level: loud\n' + GOOD,
     'log_level: must be one of debug, info, warning, error'),
    ('grace_negative', 'shutdown_grace_period: -5\n' + GOOD,
     'shutdown_grace_period: must be a number of seconds'),
    ('no_cells', 'listen: 127.0.0.1:1\n', 'cells: required key is missing'),
    ('unknown_cell_key', GOOD + '    exchange: nova\n', 'cells[0].exchange: unknown key'),
    ('connections_zero', GOOD + '    connections: 0\n',
     'cells[0].connections: must be an integer from 1 to 64'),
    ('missing_transport_url', 'cells:\n  - name: cell1\n',
     'cells[0].transport_url: required key is missing'),
    ('url_and_url_file', GOOD + '    transport_url_file: /run/secrets/x\n',
     'cells[0].transport_url_file: give either transport_url or transport_url_file'),
    ('url_file_missing',
     'cells:\n  - name: cell1\n    transport_url_file: /nonexistent/cellgw-url\n',
     'cells[0].transport_url_file: cannot read "/nonexistent/cellgw-url": No such file'),
    ('url_bad_port', GOOD.replace(':5672/', ':0/'),
     'cells[0].transport_url: host 1: port must be'),
    ('url_ssl_true', GOOD.replace(':5672/', ':5672/?ssl=true'),
     'cells[0].ssl_ca_file: required with ssl'),
    ('url_unknown_option', GOOD.replace(':5672/', ':5672/?kombu_failover_strategy=x'),
     'cells[0].transport_url: query option "kombu_failover_strategy" is not supported'),
    ('duplicate_cell', GOOD + '  - name: cell1\n    transport_url: %s\n' % URL,
     'cells[1].name: "cell1" is also the name of cells[0]'),
    ('bad_upgrade_level', GOOD + '    upgrade_levels:\n      compute: liberty\n',
     'cells[0].upgrade_levels.compute: "liberty" is neither a version'),
    ('yaml_syntax', GOOD + '    upgrade_levels: {compute: 1.0\n', 'YAML syntax error'),
    # Safe by default: reachable from other hosts without security needs allow_insecure.
    ('open_listener', GOOD.replace('listen: 127.0.0.1:50051', 'listen: 0.0.0.0:50051'),
     'listen: "0.0.0.0:50051" can be reached from other hosts'),
    ('open_listener_names_the_switch',
     GOOD.replace('listen: 127.0.0.1:50051', 'listen: "[::]:50051"'),
     'or set allow_insecure: true to accept this on a trusted network'),
    ('keepalive_unknown_key', 'keepalive: {interval: 5}\n' + GOOD,
     'keepalive.interval: unknown key'),
    ('max_call_timeout_below_default', GOOD + '    max_call_timeout: 5\n',
     'cells[0].max_call_timeout: is less than rpc_response_timeout'),
]

# (name, environment added to the GOOD file, text the message must contain)
BAD_ENVIRONMENTS = [
    ('listen', {'CELLGW_LISTEN': 'nope'}, 'CELLGW_LISTEN: must be host:port'),
    ('metrics_listen', {'CELLGW_METRICS_LISTEN': '9464'},
     'CELLGW_METRICS_LISTEN: must be host:port'),
    ('log_level', {'CELLGW_LOG_LEVEL': 'trace'},
     'CELLGW_LOG_LEVEL: must be one of debug, info, warning, error'),
    ('grace', {'CELLGW_SHUTDOWN_GRACE_PERIOD': '30s'},
     'CELLGW_SHUTDOWN_GRACE_PERIOD: must be a number of seconds'),
    ('cell_url', {'CELLGW_CELL_CELL1_TRANSPORT_URL': URL.replace(':5672/', ':0/')},
     'CELLGW_CELL_CELL1_TRANSPORT_URL: host 1: port must be'),
    ('cell_url_ssl', {'CELLGW_CELL_CELL1_TRANSPORT_URL': URL + '?ssl=true'},
     'ssl_ca_file: required with ssl'),
    ('cell_url_file_missing',
     {'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE': '/nonexistent/cellgw-secret'},
     'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE: cannot read "/nonexistent/cellgw-secret"'),
    ('cell_url_and_file', {'CELLGW_CELL_CELL1_TRANSPORT_URL': URL,
                           'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE': '/run/secrets/x'},
     'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE: set either CELLGW_CELL_CELL1_TRANSPORT_URL or '
     'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE, not both'),
    ('unknown_cell', {'CELLGW_CELL_CELL7_TRANSPORT_URL': URL},
     'CELLGW_CELL_CELL7_TRANSPORT_URL: no configured cell has this variable name'),
    ('open_listener', {'CELLGW_LISTEN': '0.0.0.0:50051'},
     'CELLGW_LISTEN: "0.0.0.0:50051" can be reached from other hosts'),
    ('health_listen', {'CELLGW_HEALTH_LISTEN': '8081'},
     'CELLGW_HEALTH_LISTEN: must be host:port'),
]


def run_cellgw(*args, env=None):
    return subprocess.run([runfile(ops_support.CELLGW)] + list(args),
                          env=ops_support.base_env(env), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60, text=True)


class CheckConfigTest(unittest.TestCase):

    def setUp(self):
        self.dir = tmpdir('check_config', self.id().split('.')[-1])

    def write(self, name, text):
        return write_file(os.path.join(self.dir, name + '.yaml'), text)

    def assert_refused(self, result, expected, label):
        self.assertEqual(result.returncode, 2, '%s: exit code; stderr: %s' % (
            label, result.stderr))
        self.assertIn(expected, result.stderr, label)
        self.assertEqual(result.stdout, '', label)
        self.assertNotIn(PASSWORD, result.stderr + result.stdout, label)

    def test_valid_file_exits_zero_and_says_so(self):
        path = self.write('good', GOOD)
        result = run_cellgw('--check-config', path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout,
                         'cellgw: %s: configuration is valid (1 cell)\n' % path)
        self.assertEqual(result.stderr, '')

    def test_each_bad_file_exits_two_naming_its_key_without_the_password(self):
        for name, yaml_text, expected in BAD_FILES:
            with self.subTest(name):
                self.assert_refused(run_cellgw('--check-config', self.write(name, yaml_text)),
                                    expected, name)

    def test_missing_file_exits_two_naming_it(self):
        path = os.path.join(self.dir, 'absent.yaml')
        result = run_cellgw('--check-config', path)
        self.assert_refused(result, 'config file "%s": No such file or directory' % path,
                            'absent')

    def test_each_bad_environment_override_exits_two_naming_the_variable(self):
        path = self.write('good', GOOD)
        for name, env, expected in BAD_ENVIRONMENTS:
            with self.subTest(name):
                self.assert_refused(run_cellgw('--check-config', path, env=env), expected,
                                    name)

    def test_environment_completes_a_file_without_transport_url(self):
        # The Kubernetes layout: no secret in the ConfigMap, the URL in a mounted file.
        path = self.write('no_url', 'cells:\n  - name: cell-1\n')
        secret = write_file(os.path.join(self.dir, 'url'), URL + '\n', 0o600)
        result = run_cellgw('--check-config', path,
                            env={'CELLGW_CELL_CELL_1_TRANSPORT_URL_FILE': secret})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('configuration is valid (1 cell)', result.stdout)

    def test_an_open_listener_is_valid_with_allow_insecure(self):
        path = self.write('open', 'allow_insecure: true\n' +
                          GOOD.replace('listen: 127.0.0.1:50051', 'listen: 0.0.0.0:50051'))
        result = run_cellgw('--check-config', path)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_serve_mode_refuses_to_start_open_without_security_naming_allow_insecure(self):
        path = self.write('open', GOOD.replace('listen: 127.0.0.1:50051',
                                               'listen: 0.0.0.0:50051'))
        result = run_cellgw('--config', path)
        self.assertEqual(result.returncode, 2, result.stderr)
        [line] = result.stderr.splitlines()
        record = json.loads(line)
        self.assertEqual(record['message'], 'invalid configuration')
        self.assertIn('allow_insecure: true', record['error'])

    def test_serve_mode_refuses_a_bad_file_with_a_json_error_naming_the_key(self):
        path = self.write('bad', GOOD + '    connections: 65\n')
        result = run_cellgw('--config', path)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        record = json.loads(lines[0])
        self.assertEqual(record['level'], 'error')
        self.assertEqual(record['message'], 'invalid configuration')
        self.assertIn('cells[0].connections: must be an integer from 1 to 64',
                      record['error'])
        self.assertNotIn(PASSWORD, result.stderr)


if __name__ == '__main__':
    ops_support.main()
