#!/usr/bin/python3
"""Captures oslo.messaging 14 notification traffic as wire vectors.

Part of tests/support. It writes the notification vectors of tests/testdata/wire
(see its README.md) from real traffic, so the codec's table test
(tests/bridge/notification_test.cc) is checked against what oslo really sends.
Run it with the system interpreter, which has python3-oslo.messaging:

    /usr/bin/python3 tests/support/capture_notification_vectors.py \
        [--out tests/testdata/wire]

What it does, all on loopback and all stopped again at the end (by PID):
  1. starts a private RabbitMQ node (tests/support/rabbitmq_node.py), turns on
     the firehose tracer and binds a spy queue to amq.rabbitmq.trace with
     'publish.#', so every basic.publish is copied with its exchange, routing
     key, properties and exact body;
  2. loads a small py-amqp hook that records the AMQP methods oslo issues
     (declares, binds, qos, consumes, publishes with their flags);
  3. publishes with real Notifiers: the messagingv2 driver (2.0 envelope) at
     every priority, a payload with big integers and unicode in both the 2.0
     and the 1.0 ('messaging' driver) form;
  4. starts and stops real notification listeners (get_notification_listener)
     without a pool and with pool "pool-a", recording what they declare, bind
     and consume;
  5. writes one JSON file per captured publish (the format of the other
     vectors) and notification_methods.jsonl (the method log, bodies removed).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import rabbitmq_node  # noqa: E402

import amqp  # noqa: E402
import amqp.channel  # noqa: E402

METHOD_LOG = []   # the hook's records, in order
WHO = ['capture']  # which part of the run is issuing methods


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return value.decode('utf-8', 'replace')
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _hook(name, describe):
    """Wraps amqp.channel.Channel.<name> to record its arguments."""
    original = getattr(amqp.channel.Channel, name)

    def wrapper(self, *args, **kwargs):
        if not getattr(self, '_capture_skip', False):
            record = describe(*args, **kwargs)
            record.update(method=name, channel=self.channel_id, who=WHO[0])
            METHOD_LOG.append(_plain(record))
        return original(self, *args, **kwargs)
    setattr(amqp.channel.Channel, name, wrapper)


_hook('exchange_declare', lambda exchange, type, passive=False, durable=False,
      auto_delete=True, nowait=False, arguments=None, **_: dict(
          exchange=exchange, type=type, durable=durable,
          auto_delete=auto_delete, arguments=arguments or {}))
_hook('queue_declare', lambda queue='', passive=False, durable=False,
      exclusive=False, auto_delete=True, nowait=False, arguments=None, **_:
      dict(queue=queue, durable=durable, exclusive=exclusive,
           auto_delete=auto_delete, arguments=arguments or {}))
_hook('queue_bind', lambda queue, exchange='', routing_key='', nowait=False,
      arguments=None, **_: dict(queue=queue, exchange=exchange,
                                routing_key=routing_key))
_hook('basic_qos', lambda prefetch_size, prefetch_count, a_global, **_: dict(
    prefetch_count=prefetch_count, a_global=a_global))
_hook('basic_consume', lambda queue='', consumer_tag='', no_local=False,
      no_ack=False, exclusive=False, nowait=False, callback=None,
      arguments=None, **_: dict(queue=queue, no_ack=no_ack,
                                exclusive=exclusive,
                                arguments=arguments or {}))
_hook('_basic_publish', lambda msg, exchange='', routing_key='',
      mandatory=False, immediate=False, *rest, **_: dict(
          exchange=exchange, routing_key=routing_key, mandatory=mandatory))
amqp.channel.Channel.basic_publish = amqp.channel.Channel._basic_publish

from oslo_config import cfg  # noqa: E402  (after the hook: kombu imports amqp)
import oslo_messaging  # noqa: E402

PUBLISHER = 'compute.host1'
CONTEXT = {
    'user_id': 'u-7e1f', 'project_id': 'p-42',
    'request_id': 'req-5f0c2f1e-0d8e-4a55-9c5e-3c2b7f6a9b10',
    'is_admin': False, 'roles': ['member', 'reader'],
    # Not in oslo's safe list: the Notifier drops it before sending.
    'auth_token': 'SECRET',
}
BIG_PAYLOAD = {
    'u64max': 2 ** 64 - 1, 'i64min': -2 ** 63, 'big70': 2 ** 70,
    'text': 'caf\u00e9 \u2603 \U0001F600 "q" \\ /',
    'nested': [[[[]]], {'a': [None, True, False, 1.5]}],
}
UNICODE_CONTEXT = dict(CONTEXT, user_name='J\u00fcrgen \U0001F600')


class Spy(object):
    """Reads the firehose copies of every publish on the node's vhost '/'."""

    QUEUE = 'capture.spy'

    def __init__(self, port):
        self.conn = amqp.Connection('127.0.0.1:%d' % port, userid='guest',
                                    password='guest')
        self.conn.connect()
        self.channel = self.conn.channel()
        self.channel._capture_skip = True
        self.channel.queue_declare(self.QUEUE, durable=False,
                                   auto_delete=False)
        self.channel.queue_bind(self.QUEUE, 'amq.rabbitmq.trace', 'publish.#')

    def take(self, count, timeout=15.0):
        """The next `count` traced publishes (raises when they do not come)."""
        got, deadline = [], time.monotonic() + timeout
        while len(got) < count:
            message = self.channel.basic_get(self.QUEUE, no_ack=True)
            if message is None:
                if time.monotonic() > deadline:
                    raise RuntimeError('expected %d publishes, saw %d'
                                       % (count, len(got)))
                time.sleep(0.05)
                continue
            headers = message.properties.get('application_headers', {})
            body = message.body
            if isinstance(body, (bytes, bytearray)):
                body = body.decode('utf-8')
            got.append({
                'exchange': _plain(headers['exchange_name']),
                'routing_key': _plain(headers['routing_keys'][0]),
                'routed_queues': _plain(list(headers.get('routed_queues',
                                                         []))),
                'properties': _plain(headers['properties']),
                'body': body,
            })
        return got

    def close(self):
        self.channel.queue_delete(self.QUEUE)
        self.conn.close()


def decode(body):
    outer = json.loads(body)
    if 'oslo.version' in outer and 'oslo.message' in outer:
        return outer['oslo.version'], json.loads(outer['oslo.message'])
    return None, outer


class Endpoint(object):
    """Accepts every priority (the listener then binds all seven)."""

    def _any(self, ctxt, publisher_id, event_type, payload, metadata):
        return oslo_messaging.NotificationResult.HANDLED

    audit = debug = info = warn = error = critical = sample = _any


def capture(url, spy):
    """Runs every case; returns [(case, description, traced publish)]."""
    vectors = []
    transport = oslo_messaging.get_notification_transport(cfg.CONF, url=url)
    try:
        WHO[0] = 'oslo-notifier'
        v2 = oslo_messaging.Notifier(transport, publisher_id=PUBLISHER,
                                     driver='messagingv2',
                                     topics=['notifications'])
        for priority in ('audit', 'debug', 'info', 'warn', 'error',
                         'critical', 'sample'):
            getattr(v2, priority)(CONTEXT, 'compute.instance.%s' % priority,
                                  {'priority_was': priority, 'n': 1})
            vectors.append((
                'notification_priority_%s' % priority,
                'Notifier(driver="messagingv2").%s: 2.0 envelope, routing '
                'key notifications.%s' % (priority, priority),
                spy.take(1)[0]))
        v2.sample(UNICODE_CONTEXT, 'compute.metrics.update', BIG_PAYLOAD)
        vectors.append(('notification_bigint_unicode',
                        'messagingv2 sample whose payload holds 2**64-1, '
                        '-2**63, 2**70, astral unicode, quotes, backslash, '
                        'nesting; a non-ASCII context value', spy.take(1)[0]))
        v1 = oslo_messaging.Notifier(transport, publisher_id=PUBLISHER,
                                     driver='messaging',
                                     topics=['notifications'])
        v1.warn(UNICODE_CONTEXT, 'compute.metrics.update', BIG_PAYLOAD)
        vectors.append(('notification_v1_bigint_unicode',
                        'Notifier(driver="messaging").warn: 1.0 form (no '
                        'envelope), the same payload', spy.take(1)[0]))
        two = oslo_messaging.Notifier(transport, publisher_id=PUBLISHER,
                                      driver='messagingv2',
                                      topics=['notifications', 'audit_log'])
        two.info({}, 'identity.user.created', {'id': 'u-1'})
        published = spy.take(2)
        published.sort(key=lambda m: m['routing_key'])
        vectors.append(('notification_second_topic',
                        'messagingv2 with topics=["notifications", '
                        '"audit_log"] and an empty context: one publish per '
                        'topic; this is the audit_log.info one',
                        published[0]))

        for pool in (None, 'pool-a'):
            WHO[0] = 'oslo-listener-%s' % (pool or 'no-pool')
            listener = oslo_messaging.get_notification_listener(
                transport, [oslo_messaging.Target(topic='notifications')],
                [Endpoint()], executor='threading', pool=pool)
            listener.start()
            listener.stop()
            listener.wait()
    finally:
        transport.cleanup()
    return vectors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=os.path.join(
        HERE, '..', 'testdata', 'wire'))
    args = parser.parse_args(argv)
    cfg.CONF([], project='cellgw-capture')
    cfg.CONF.set_override('metrics_thread_stop_timeout', 0,
                          group='oslo_messaging_metrics')
    workdir = tempfile.mkdtemp(prefix='cellgw_capture_')
    node = rabbitmq_node.PrivateRabbitMQ(os.path.join(workdir, 'rmq'))
    spy = None
    try:
        node.start()
        node.ctl('trace_on')
        spy = Spy(node.amqp_port)
        vectors = capture(node.url(), spy)
        os.makedirs(args.out, exist_ok=True)
        for case, description, traced in vectors:
            version, message = decode(traced['body'])
            record = {
                'case': case,
                'description': description,
                'exchange': traced['exchange'],
                'routing_key': traced['routing_key'],
                'properties': traced['properties'],
                'mandatory': False,
                'published_by': 'oslo-notifier',
                'routed_queues': traced['routed_queues'],
                'envelope_version': version,
                'body': traced['body'],
                'decoded_message': message,
            }
            for entry in METHOD_LOG:
                if (entry['method'] == '_basic_publish' and
                        entry['routing_key'] == traced['routing_key']):
                    record['mandatory'] = entry['mandatory']
            with open(os.path.join(args.out, case + '.json'), 'w',
                      encoding='utf-8') as f:
                json.dump(record, f, indent=1, ensure_ascii=False)
                f.write('\n')
        with open(os.path.join(args.out, 'notification_methods.jsonl'),
                  'w') as f:
            for entry in METHOD_LOG:
                f.write(json.dumps(entry, sort_keys=True) + '\n')
        print('wrote %d vectors and notification_methods.jsonl to %s'
              % (len(vectors), os.path.abspath(args.out)))
        return 0
    finally:
        if spy is not None:
            spy.close()
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
