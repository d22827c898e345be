#!/usr/bin/python3
"""A real oslo.messaging client against the native echo server (tests/bench).

Part of tests/bench (//tests/bench:echo_server_oslo_test, tagged integration).
Starts a private RabbitMQ node, the native echo_server (the binary is argv[1])
and the real tests/support/oslo_server.py on another topic with the same
server name, then asks both the same things with the real
tests/support/oslo_client.py and checks that the native server answers the
way oslo.messaging does: exactly the same client-side result for echo (big
integers and unicode included), the same NoSuchMethod failure for an unknown
method, casts and fanouts consumed without a reply, and a call to
<topic>.<server> answered by that server.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(os.path.dirname(HERE), 'support')
sys.path.insert(0, SUPPORT)

import rabbitmq_node  # noqa: E402

PYTHON = '/usr/bin/python3'
SERVER_NAME = 'host1'
NATIVE_TOPIC = 'native_echo'
OSLO_TOPIC = 'oslo_echo'
ECHO_SERVER = None   # set from argv in __main__


def start_ready(argv, log):
    """Starts `argv` and returns it once it printed {"event": "ready"}."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=log)
    for raw in proc.stdout:   # blocks until the ready line or EOF
        try:
            if json.loads(raw).get('event') == 'ready':
                return proc
        except ValueError:
            continue
    proc.wait()
    raise RuntimeError('%s exited %s before it was ready' % (
        argv[0], proc.returncode))


def stop(proc):
    """SIGTERM, then the rest of stdout; returns (exit code, stdout text)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read().decode('utf-8', 'replace')
    proc.wait(30)
    return proc.returncode, rest


class EchoServerAgainstOsloClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='echo-oslo-',
                                   dir=os.environ.get('TEST_TMPDIR'))
        cls.log = open(os.path.join(cls.tmp, 'servers.log'), 'ab')
        cls.node = rabbitmq_node.PrivateRabbitMQ(os.path.join(cls.tmp, 'mq'))
        cls.procs = []
        try:
            cls.node.start()
            cls.url = cls.node.url()
            cls.native = start_ready(
                [ECHO_SERVER, '--url=' + cls.url, '--topic=' + NATIVE_TOPIC,
                 '--server=' + SERVER_NAME], cls.log)
            cls.procs.append(cls.native)
            cls.oslo = start_ready(
                [PYTHON, os.path.join(SUPPORT, 'oslo_server.py'), '--url',
                 cls.url, '--topic', OSLO_TOPIC, '--server', SERVER_NAME],
                cls.log)
            cls.procs.append(cls.oslo)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for proc in cls.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        cls.node.stop()
        cls.log.close()

    def client(self, topic, kind, method, args, ctxt='{}', server=None):
        argv = [PYTHON, os.path.join(SUPPORT, 'oslo_client.py'), '--url',
                self.url, '--topic', topic, '--timeout', '20']
        if server:
            argv += ['--server', server]
        done = subprocess.run(argv + [kind, method, args, ctxt],
                              capture_output=True, timeout=60)
        return done.returncode, json.loads(done.stdout)

    def both(self, kind, method, args, ctxt='{}', server=None):
        native = self.client(NATIVE_TOPIC, kind, method, args, ctxt, server)
        oslo = self.client(OSLO_TOPIC, kind, method, args, ctxt, server)
        return native, oslo

    def test_echo_result_equals_real_oslo_servers_result(self):
        args = ('{"n": 18446744073709551617, "neg": -9223372036854775809, '
                '"f": 1.5, "s": "h\\u00e9llo \\ud83d\\ude00 \\"q\\"", '
                '"deep": [[{"a": null, "b": true}]]}')
        ctxt = '{"user_id": "u1", "roles": ["member"], "auth_token": null}'
        native, oslo = self.both('call', 'echo', args, ctxt)
        self.assertEqual(native[0], 0, native)
        self.assertEqual(native, oslo)
        self.assertEqual(native[1]['kw']['n'], 18446744073709551617)
        self.assertIsNone(native[1]['ctxt']['client_timeout'])

    def test_unknown_method_fails_like_real_oslo_server(self):
        native, oslo = self.both('call', 'no_such', '{}')
        self.assertEqual(native[0], 1, native)
        self.assertEqual(native, oslo)
        self.assertIn('NoSuchMethod', native[1]['message'])

    def test_call_to_server_queue_is_answered_by_that_server(self):
        code, result = self.client(NATIVE_TOPIC, 'call', 'echo', '{"x": 1}',
                                   server=SERVER_NAME)
        self.assertEqual(code, 0, result)
        self.assertEqual(result['server'], SERVER_NAME)
        self.assertEqual(result['kw'], {'x': 1})

    def test_cast_and_fanout_are_consumed_without_reply(self):
        for kind in ('cast', 'fanout'):
            code, result = self.client(NATIVE_TOPIC, kind, 'echo', '{}')
            self.assertEqual((code, result), (0, {'sent': kind}))
        # A call after them is answered, so the server kept running and
        # consumed both one-way messages (it counts them when it stops).
        code, _ = self.client(NATIVE_TOPIC, 'call', 'echo', '{}')
        self.assertEqual(code, 0)

    def test_zzz_stop_reports_every_message_and_exits_cleanly(self):
        # Runs last (alphabetical order): stops the native server.
        code, rest = stop(self.native)
        self.assertEqual(code, 0)
        stats = json.loads(rest.strip().splitlines()[-1])
        self.assertEqual(stats['event'], 'stopped')
        self.assertEqual(stats['dropped'], 0)
        self.assertEqual(stats['returned'], 0)
        self.assertGreaterEqual(stats['casts'], 2)
        self.assertGreaterEqual(stats['calls'], 4)


if __name__ == '__main__':
    ECHO_SERVER = os.path.abspath(sys.argv.pop(1))
    unittest.main()
