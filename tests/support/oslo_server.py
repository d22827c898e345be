#!/usr/bin/python3
"""A real oslo.messaging RPC server, the peer of cellgw's integration tests.

Part of tests/support: C++ tests start it through OsloProcess::StartServer
(tests/support/oslo_process.h), Python tests and the demo run it directly.
Run it with /usr/bin/python3, which has Debian's python3-oslo.messaging.

    oslo_server.py --url rabbit://guest:guest@127.0.0.1:PORT/ --topic compute
                   [--server host1] [--exchange openstack]
                   [--endpoint-version 1.3] [--durable] [--verbose]

--durable sets [oslo_messaging_rabbit] amqp_durable_queues = True, as a
deployment using durable queues does (resilience tests).

stdout is a protocol: one JSON object per line, flushed at once.
  {"event": "ready"}                       listening (queues declared, bound)
  {"event": "invoked", "server", "method", "ctxt", "kw"}   every RPC, calls too
  {"event": "cast", "server", "method": "note", "ctxt", "kw"}   note() only
  {"event": "stopped"}                     after SIGTERM/SIGINT; exit code 0

Endpoints (default namespace, version --endpoint-version):
  echo(**kw) -> {"ctxt", "kw", "server"}      big() -> large ints, unicode
  fail_value(what) raises ValueError          fail_custom() raises
  fail_expected() raises KeyError (declared)  cellgw_test_exc.CellQuotaExceeded
  slow(seconds=1) -> "slept <seconds>"        note(**kw) (cast target)
Namespace "admin", version 2.0: ns_only() -> "from admin namespace".
"""

import argparse
import functools
import logging
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402

import cellgw_test_exc  # noqa: E402
from oslo_peer import emit  # noqa: E402
import oslo_peer  # noqa: E402


def invoked(method):
    """Reports every invocation of an endpoint method before running it."""

    @functools.wraps(method)
    def wrapper(self, ctxt, **kw):
        emit({'event': 'invoked', 'server': self.server_name,
              'method': method.__name__, 'ctxt': ctxt, 'kw': kw})
        return method(self, ctxt, **kw)
    return wrapper


class Main(object):
    def __init__(self, server_name, version):
        self.server_name = server_name
        self.target = oslo_messaging.Target(version=version)

    @invoked
    def echo(self, ctxt, **kw):
        return {'ctxt': ctxt, 'kw': kw, 'server': self.server_name}

    @invoked
    def big(self, ctxt):
        return {'u64max': 2 ** 64 - 1, 'i64min': -2 ** 63, 'big70': 2 ** 70,
                'text': 'h\u00e9llo \u2603 \U0001F600 "q" \\ /',
                'nested': [[[[{'deep': [None, True, False, 1.5]}]]]]}

    @invoked
    def fail_value(self, ctxt, what='bad'):
        raise ValueError('invalid value: %s' % what)

    @invoked
    def fail_custom(self, ctxt):
        raise cellgw_test_exc.CellQuotaExceeded(resource='cores', requested=8)

    @oslo_messaging.expected_exceptions(KeyError)   # outermost: no wraps()
    @invoked
    def fail_expected(self, ctxt):
        raise KeyError('missing-key')

    @invoked
    def slow(self, ctxt, seconds=1):
        time.sleep(seconds)
        return 'slept %s' % seconds

    @invoked
    def note(self, ctxt, **kw):
        emit({'event': 'cast', 'server': self.server_name, 'method': 'note',
              'ctxt': ctxt, 'kw': kw})


class Admin(object):
    target = oslo_messaging.Target(namespace='admin', version='2.0')

    def __init__(self, server_name):
        self.server_name = server_name

    @invoked
    def ns_only(self, ctxt):
        return 'from admin namespace'


def main(argv=None):
    parser = argparse.ArgumentParser(description='oslo.messaging RPC test '
                                     'server (JSON lines on stdout)')
    parser.add_argument('--url', required=True, help='transport URL')
    parser.add_argument('--topic', required=True)
    parser.add_argument('--server', default='server1',
                        help='Target.server (default %(default)s)')
    parser.add_argument('--exchange', default='openstack',
                        help='control_exchange (default %(default)s)')
    parser.add_argument('--endpoint-version', default='1.3',
                        help='version of the default-namespace endpoint')
    parser.add_argument('--durable', action='store_true',
                        help='amqp_durable_queues = True')
    parser.add_argument('--verbose', action='store_true',
                        help='oslo/kombu logging to stderr')
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr,
                        level=logging.DEBUG if args.verbose else
                        logging.WARNING)
    signals = oslo_peer.block_stop_signals()
    oslo_peer.configure(args.exchange, durable=args.durable)
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=args.url)
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    server = oslo_messaging.get_rpc_server(
        transport, target,
        [Main(args.server, args.endpoint_version), Admin(args.server)],
        executor='threading')
    # start() declares the queues and bindings before returning.
    server.start()
    emit({'event': 'ready', 'server': args.server, 'topic': args.topic,
          'exchange': args.exchange})

    signal.sigwait(signals)
    server.stop()
    server.wait()
    transport.cleanup()
    emit({'event': 'stopped'})
    return 0


if __name__ == '__main__':
    sys.exit(main())
