#!/usr/bin/python3
"""A real oslo.messaging Notifier CLI, the publishing peer of cellgw's notification tests.

Part of tests/support; C++ tests run it through OsloProcess::Run
(tests/support/oslo_process.h). Run it with /usr/bin/python3, which has Debian's
python3-oslo.messaging.

    oslo_notifier.py --url URL [--exchange openstack] [--topic notifications ...]
                     [--publisher-id compute.host1] [--driver messagingv2|messaging]
                     [--durable]
                     (batch NOTIFICATIONS_JSON | seq --count N --marker M
                      [--priority info] [--event-type compute.seq])

batch: NOTIFICATIONS_JSON is a JSON array of objects {"priority", "event_type",
"payload", "context"} (payload any JSON, context an object; both default to {}), sent in
order. seq: N notifications whose payload is {"marker": M, "seq": i}, i = 0..N-1.
--driver messaging sends the legacy 1.0 form (no envelope); --durable sets
amqp_durable_queues, as a deployment with durable queues does.

stdout is a protocol: one JSON object per line, flushed at once.
  {"event": "sent", "message": {...}}   per notification: the message exactly as the
                                         Notifier built it (message_id, publisher_id,
                                         event_type, priority, payload, timestamp,
                                         _unique_id, _context_*)
  {"event": "done", "count": N}          then exit 0
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402
from oslo_messaging.notify import messaging as notify_messaging  # noqa: E402

import oslo_peer  # noqa: E402


def emit(record):
    """One JSON line, keys in the message's own order (the test compares them)."""
    sys.stdout.write(json.dumps(record) + '\n')
    sys.stdout.flush()


def record_sent_messages():
    """Wraps the messaging driver so that each message is reported once it was sent.

    The driver's transport fills in _unique_id and the _context_* keys in place, so the
    dict is complete after the call returns.
    """
    original = notify_messaging.MessagingDriver.notify

    def notify(self, ctxt, message, priority, retry):
        result = original(self, ctxt, message, priority, retry)
        emit({'event': 'sent', 'message': message})
        return result
    notify_messaging.MessagingDriver.notify = notify


def main(argv=None):
    parser = argparse.ArgumentParser(description='oslo.messaging Notifier')
    parser.add_argument('--url', required=True)
    parser.add_argument('--exchange', default='openstack',
                        help='control_exchange (default %(default)s)')
    parser.add_argument('--topic', action='append', dest='topics',
                        help='notification topic (repeatable; default '
                             'notifications)')
    parser.add_argument('--publisher-id', default='compute.host1')
    parser.add_argument('--driver', default='messagingv2',
                        choices=['messagingv2', 'messaging'])
    parser.add_argument('--durable', action='store_true')
    sub = parser.add_subparsers(dest='mode', required=True)
    batch = sub.add_parser('batch')
    batch.add_argument('notifications_json')
    seq = sub.add_parser('seq')
    seq.add_argument('--count', type=int, required=True)
    seq.add_argument('--marker', required=True)
    seq.add_argument('--priority', default='info')
    seq.add_argument('--event-type', default='compute.seq')
    args = parser.parse_args(argv)

    oslo_peer.configure(args.exchange, durable=args.durable)
    record_sent_messages()
    transport = oslo_messaging.get_notification_transport(cfg.CONF,
                                                          url=args.url)
    try:
        notifier = oslo_messaging.Notifier(
            transport, publisher_id=args.publisher_id, driver=args.driver,
            topics=args.topics or ['notifications'])
        if args.mode == 'batch':
            items = json.loads(args.notifications_json)
        else:
            items = [{'priority': args.priority, 'event_type': args.event_type,
                      'payload': {'marker': args.marker, 'seq': i}}
                     for i in range(args.count)]
        for item in items:
            send = getattr(notifier, item['priority'])
            send(item.get('context', {}), item['event_type'],
                 item.get('payload', {}))
        emit({'event': 'done', 'count': len(items)})
        return 0
    finally:
        transport.cleanup()


if __name__ == '__main__':
    sys.exit(main())
