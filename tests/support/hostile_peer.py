#!/usr/bin/python3
"""A hostile oslo.messaging RPC "server" on raw AMQP, for cellgw's resilience tests.

Part of tests/support. tests/resilience/hostile_reply_test.cc starts it through
OsloProcess::Run (tests/support/oslo_process.h) with /usr/bin/python3, which has
Debian's python3-amqp (py-amqp, the library under kombu). It speaks AMQP
directly, not through oslo.messaging, so it can send what a broken or malicious
peer would.

    hostile_peer.py --url rabbit://guest:guest@127.0.0.1:PORT/ --exchange nova
                    [--topic hostile]

It declares the topic exchange (transient, as oslo's default), a queue named
after the topic bound to it with the topic as routing key, consumes it, and
answers each request according to its method name:

  valid                 one correct reply; result = the request's args
  not_json              body "garbage"
  wrong_types           two replies: `_msg_id` a number, then the right
                        `_msg_id` with `failure` an object instead of a string
  unknown_msgid         a correct reply to a random msg id
  twice                 the correct reply, sent twice
  huge                  a correct reply whose result is a string of
                        args["bytes"] bytes (default 1 MiB)
  wrong_content_type    a correct reply published as text/plain
  valid_after_garbage   body "garbage", then the correct reply
  late                  the correct reply after args["delay"] seconds
  deep                  a reply whose result nests args["depth"] lists
  hold                  no reply until a later "release"
  release               first the correct reply to every held call, then (if
                        it is a call) its own
  anything else         no reply at all

Replies go where oslo's would: the default exchange, routing key `_reply_q`.
Requests are handled one at a time, and the replies of one request are
published in order on one channel, so a caller that makes a `valid` call after
another call knows every reply to the earlier call reached its reply queue
first.

stdout is a protocol: one JSON object per line, flushed at once.
  {"event": "ready", "queue": ..., "exchange": ...}
  {"event": "request", "method": ..., "msg_id": ..., "args": ...}   on arrival
  {"event": "replied", "method": ..., "msg_id": ..., "replies": N}
  {"event": "stopped"}                                  after SIGTERM/SIGINT
"""

import argparse
import json
import signal
import socket
import sys
import time
import urllib.parse
import uuid

import amqp

_stopping = False


def emit(record):
    sys.stdout.write(json.dumps(record, sort_keys=True) + '\n')
    sys.stdout.flush()


def parse_url(url):
    """rabbit://user:pass@host:port/vhost -> amqp.Connection keyword args."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != 'rabbit':
        raise SystemExit('--url: only rabbit:// is supported')
    # Only the first host of a multi-host URL: the tests give one.
    netloc = parsed.netloc.split(',')[0]
    credentials, _, hostport = netloc.rpartition('@')
    user, _, password = credentials.partition(':')
    vhost = urllib.parse.unquote(parsed.path[1:]) if len(parsed.path) > 1 else '/'
    return {'host': hostport,
            'userid': urllib.parse.unquote(user) or 'guest',
            'password': urllib.parse.unquote(password) or 'guest',
            'virtual_host': vhost}


def envelope(message):
    """The oslo 2.0 envelope around an inner message (a dict or raw text)."""
    inner = message if isinstance(message, str) else json.dumps(message)
    return json.dumps({'oslo.version': '2.0', 'oslo.message': inner})


def reply(msg_id, result):
    return {'result': result, 'failure': None, 'ending': True,
            '_msg_id': msg_id, '_unique_id': uuid.uuid4().hex}


class Peer(object):
    def __init__(self, channel):
        self.channel = channel
        self.inbox = []
        self.held = []  # (reply_q, msg_id, args) of "hold" calls

    def publish(self, reply_q, body, content_type='application/json'):
        message = amqp.Message(body, content_type=content_type,
                               content_encoding='utf-8', delivery_mode=2,
                               priority=0, application_headers={})
        self.channel.basic_publish(message, exchange='', routing_key=reply_q)

    def on_message(self, message):
        # Only queued here: py-amqp may deliver the next message from inside a
        # publish made in this callback, which would reorder the replies.
        self.inbox.append(message.body)

    def handle_inbox(self):
        while self.inbox:
            self.handle(self.inbox.pop(0))

    def handle(self, body):
        if isinstance(body, bytes):
            body = body.decode('utf-8')
        request = json.loads(json.loads(body)['oslo.message'])
        method = request.get('method', '')
        args = request.get('args') or {}
        msg_id = request.get('_msg_id')
        reply_q = request.get('_reply_q')
        emit({'event': 'request', 'method': method, 'msg_id': msg_id,
              'args': args})
        if method == 'release':
            for held_q, held_id, held_args in self.held:
                self.publish(held_q, envelope(reply(held_id, held_args)))
            emit({'event': 'released', 'calls': len(self.held)})
            self.held = []
        if not msg_id or not reply_q:
            return  # a cast: nothing to answer
        if method == 'hold':
            self.held.append((reply_q, msg_id, args))
            return
        bodies = self.answers(method, args, msg_id)
        for text, content_type in bodies:
            self.publish(reply_q, text, content_type)
        emit({'event': 'replied', 'method': method, 'msg_id': msg_id,
              'replies': len(bodies)})

    def answers(self, method, args, msg_id):
        """The (body, content type) pairs to send, in order."""
        good = envelope(reply(msg_id, args))
        json_type = 'application/json'
        if method in ('valid', 'release'):
            return [(good, json_type)]
        if method == 'not_json':
            return [('garbage', json_type)]
        if method == 'wrong_types':
            number_id = reply(msg_id, args)
            number_id['_msg_id'] = 12345
            object_failure = reply(msg_id, args)
            object_failure['failure'] = {'class': 'ValueError',
                                         'module': 'builtins',
                                         'message': 'not a string'}
            return [(envelope(number_id), json_type),
                    (envelope(object_failure), json_type)]
        if method == 'unknown_msgid':
            return [(envelope(reply(uuid.uuid4().hex, args)), json_type)]
        if method == 'twice':
            return [(good, json_type), (good, json_type)]
        if method == 'huge':
            size = int(args.get('bytes', 1 << 20))
            return [(envelope(reply(msg_id, 'x' * size)), json_type)]
        if method == 'wrong_content_type':
            return [(good, 'text/plain')]
        if method == 'valid_after_garbage':
            return [('garbage', json_type), (good, json_type)]
        if method == 'late':
            time.sleep(float(args.get('delay', 2)))
            return [(good, json_type)]
        if method == 'deep':
            depth = int(args.get('depth', 20000))
            result = '[' * depth + ']' * depth
            inner = ('{"result": %s, "failure": null, "ending": true, '
                     '"_msg_id": "%s"}' % (result, msg_id))
            return [(envelope(inner), json_type)]
        return []


def on_signal(signum, frame):
    global _stopping
    _stopping = True


def main(argv=None):
    parser = argparse.ArgumentParser(description='hostile AMQP RPC peer '
                                     '(JSON lines on stdout)')
    parser.add_argument('--url', required=True, help='transport URL')
    parser.add_argument('--exchange', required=True,
                        help='topic exchange to bind on (the control_exchange)')
    parser.add_argument('--topic', default='hostile',
                        help='queue name and routing key (default %(default)s)')
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    connection = amqp.Connection(**parse_url(args.url))
    connection.connect()
    channel = connection.channel()
    channel.exchange_declare(args.exchange, 'topic', durable=False,
                             auto_delete=False)
    channel.queue_declare(args.topic, durable=False, auto_delete=False)
    channel.queue_bind(args.topic, args.exchange, routing_key=args.topic)
    peer = Peer(channel)
    channel.basic_consume(args.topic, callback=peer.on_message, no_ack=True)
    emit({'event': 'ready', 'queue': args.topic, 'exchange': args.exchange})

    while not _stopping:
        try:
            connection.drain_events(timeout=0.5)
        except (socket.timeout, InterruptedError):
            pass
        peer.handle_inbox()
    connection.close()
    emit({'event': 'stopped'})
    return 0


if __name__ == '__main__':
    sys.exit(main())
