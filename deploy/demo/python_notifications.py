#!/usr/bin/python3
"""oslo.messaging notifications through cellgw from Python: the demo's gRPC subscriber and
notifier.

Uses the stubs Bazel generates from proto/cellgw/v1/gateway.proto
(`bazel build //proto:gateway_py_gen`, output in bazel-bin/proto/py); run it with
/usr/bin/python3:

    python_notifications.py [--addr HOST:PORT] [--stubs DIR] subscribe [--topic T]
                            [--pool P] [--count N]
    python_notifications.py [--addr HOST:PORT] [--stubs DIR] notify --publisher-id P
                            --event-type E [--priority info] [--payload JSON]
                            [--context JSON] [--topic T]

subscribe prints "subscriber: subscribed" once the gateway reports the subscription live
(its x-cellgw-subscription header), then "subscriber: <JSON>" per notification (the
Notification message as JSON, payload and context decoded), and acknowledges each one after
printing it. With --count it ends the stream gracefully after N (half-close: the gateway
applies the acknowledgements and finishes with OK) and exits 0. notify prints the published
message_id. Both exit 1 on a gRPC error, printing its code and message.
"""

import argparse
import json
import os
import queue
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STUBS = os.path.join(HERE, '..', '..', 'bazel-bin', 'proto', 'py')


def say(text):
    sys.stdout.write('subscriber: %s\n' % text)
    sys.stdout.flush()


def subscribe(gateway, pb, args):
    import grpc
    requests = queue.Queue()
    requests.put(pb.SubscribeRequest(topics=[args.topic], pool=args.pool))

    def outgoing():
        while True:
            request = requests.get()
            if request is None:
                return   # the half-close
            yield request

    call = gateway.Subscribe(outgoing())
    try:
        if any(key == 'x-cellgw-subscription' for key, _ in call.initial_metadata()):
            say('subscribed')
        count = 0
        for notification in call:
            say(json.dumps({
                'event_type': notification.event_type,
                'publisher_id': notification.publisher_id,
                'priority': notification.priority,
                'topic': notification.topic,
                'payload': json.loads(notification.payload_json),
                'context': json.loads(notification.context_json),
                'message_id': notification.message_id,
                'timestamp': notification.timestamp,
            }, ensure_ascii=False, sort_keys=True))
            requests.put(pb.SubscribeRequest(ack_ids=[notification.ack_id]))
            count += 1
            if args.count and count == args.count:
                requests.put(None)
        say('stream ended: %s' % call.code().name)
        return 0 if call.code() == grpc.StatusCode.OK else 1
    except grpc.RpcError as error:
        say('stream ended: %s %s' % (error.code().name, error.details()))
        return 1


def notify(gateway, pb, args):
    import grpc
    try:
        response = gateway.Notify(pb.NotifyRequest(
            topic=args.topic, publisher_id=args.publisher_id, event_type=args.event_type,
            priority=args.priority, payload_json=args.payload, context_json=args.context),
            timeout=30)
    except grpc.RpcError as error:
        print('%s: %s' % (error.code().name, error.details()))
        return 1
    print(json.dumps({'message_id': response.message_id}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--addr', default=os.environ.get('CELLGW_ADDR') or '127.0.0.1:50051')
    parser.add_argument('--stubs', default=DEFAULT_STUBS)
    sub = parser.add_subparsers(dest='command', required=True)
    s = sub.add_parser('subscribe')
    s.add_argument('--topic', default='notifications')
    s.add_argument('--pool', default='')
    s.add_argument('--count', type=int, default=0)
    n = sub.add_parser('notify')
    n.add_argument('--topic', default='notifications')
    n.add_argument('--publisher-id', required=True)
    n.add_argument('--event-type', required=True)
    n.add_argument('--priority', default='info')
    n.add_argument('--payload', default='{}')
    n.add_argument('--context', default='{}')
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.abspath(args.stubs))
    import grpc
    from cellgw.v1 import gateway_pb2
    from cellgw.v1 import gateway_pb2_grpc
    gateway = gateway_pb2_grpc.CellGatewayStub(grpc.insecure_channel(args.addr))
    if args.command == 'subscribe':
        return subscribe(gateway, gateway_pb2, args)
    return notify(gateway, gateway_pb2, args)


if __name__ == '__main__':
    sys.exit(main())
