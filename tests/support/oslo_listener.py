#!/usr/bin/python3
"""A real oslo.messaging NotificationListener, the receiving peer of cellgw's tests.

Part of tests/support; C++ tests run it through OsloProcess::Run
(tests/support/oslo_process.h). Run it with /usr/bin/python3.

    oslo_listener.py --url URL [--exchange openstack] [--topic notifications ...]
                     [--pool POOL]

It listens with get_notification_listener(transport, targets, [endpoint], pool=POOL)
for every priority, acknowledges everything it receives, and reports on stdout, one JSON
object per line, flushed at once:
  {"event": "ready"}            listening (its queues are declared, bound and consumed)
  {"event": "notification", "priority", "publisher_id", "event_type", "message_id",
   "timestamp", "payload_json", "ctxt_json"}     per notification; payload_json and
                                ctxt_json are json.dumps() of what the endpoint got
  {"event": "stopped"}          after SIGTERM/SIGINT; exit code 0
"""

import argparse
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402

from oslo_peer import emit  # noqa: E402
import oslo_peer  # noqa: E402


class Endpoint(object):
    """Every priority; reports what the dispatcher hands over, exactly."""

    def _handle(self, priority):
        def handle(ctxt, publisher_id, event_type, payload, metadata):
            emit({'event': 'notification', 'priority': priority,
                  'publisher_id': publisher_id, 'event_type': event_type,
                  'message_id': metadata.get('message_id'),
                  'timestamp': metadata.get('timestamp'),
                  'payload_json': json.dumps(payload),
                  'ctxt_json': json.dumps(ctxt)})
            return oslo_messaging.NotificationResult.HANDLED
        return handle

    def __init__(self):
        for priority in ('audit', 'debug', 'info', 'warn', 'error',
                         'critical', 'sample'):
            setattr(self, priority, self._handle(priority))


def main(argv=None):
    parser = argparse.ArgumentParser(description='oslo.messaging '
                                     'NotificationListener (JSON lines)')
    parser.add_argument('--url', required=True)
    parser.add_argument('--exchange', default='openstack',
                        help='control_exchange (default %(default)s)')
    parser.add_argument('--topic', action='append', dest='topics')
    parser.add_argument('--pool')
    args = parser.parse_args(argv)

    signals = oslo_peer.block_stop_signals()
    oslo_peer.configure(args.exchange)
    transport = oslo_messaging.get_notification_transport(cfg.CONF,
                                                          url=args.url)
    targets = [oslo_messaging.Target(topic=topic)
               for topic in (args.topics or ['notifications'])]
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [Endpoint()], executor='threading', pool=args.pool)
    listener.start()
    emit({'event': 'ready', 'pool': args.pool})
    signal.sigwait(signals)
    listener.stop()
    listener.wait()
    transport.cleanup()
    emit({'event': 'stopped'})
    return 0


if __name__ == '__main__':
    sys.exit(main())
