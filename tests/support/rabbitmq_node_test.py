#!/usr/bin/python3 -B
"""tests/support/rabbitmq_node.py's private epmd starts whatever file descriptor its listening
socket gets. It is handed to epmd through a shell, and dash (Debian's /bin/sh) refuses fds of
10 and more ("Bad fd number"): in a test process with many files open the broker then failed
to start with "nodistribution". No broker here: epmd alone, asked for its NAMES."""

import os
import socket
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import junit_report  # noqa: E402
import rabbitmq_node  # noqa: E402


class EpmdTest(unittest.TestCase):

    def test_epmd_starts_when_its_listener_fd_is_over_nine(self):
        padding = [os.open('/dev/null', os.O_RDONLY) for _ in range(12)]
        self.addCleanup(lambda: [os.close(fd) for fd in padding])
        probe = socket.socket()
        self.assertGreater(probe.fileno(), 9, 'the listener must get a two-digit fd')
        probe.close()

        node = rabbitmq_node.PrivateRabbitMQ(
            tempfile.mkdtemp(prefix='epmd.', dir=os.environ.get('TEST_TMPDIR')))
        os.makedirs(node.workdir, exist_ok=True)
        node._start_epmd()
        self.addCleanup(node._cleanup_processes)

        # NAMES_REQ: length 1, 'n'. The reply starts with epmd's own port (4 bytes).
        with socket.create_connection(('127.0.0.1', node.epmd_port), timeout=30) as conn:
            conn.sendall(b'\x00\x01n')
            reply = b''
            while len(reply) < 4:
                chunk = conn.recv(4 - len(reply))
                self.assertTrue(chunk, 'epmd closed the connection: %s' % self._log(node))
                reply += chunk
        self.assertEqual(struct.unpack('>I', reply)[0], node.epmd_port, self._log(node))

    @staticmethod
    def _log(node):
        try:
            with open(os.path.join(node.workdir, 'epmd.log')) as f:
                return f.read()
        except OSError:
            return ''


if __name__ == '__main__':
    sys.exit(junit_report.run(EpmdTest, 'rabbitmq_node_test'))
