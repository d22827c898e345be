#!/usr/bin/python3
"""Serving an oslo.messaging topic from Python without oslo.messaging: a gRPC worker.

Uses the stubs that Bazel generates from proto/cellgw/v1/gateway.proto with Debian's
grpc_python_plugin (`bazel build //proto:gateway_py_gen`, output in bazel-bin/proto/py) and
Debian's python3-grpcio; run it with /usr/bin/python3:

    python_worker.py [--addr HOST:PORT] [--stubs DIR] [--cell CELL] --topic T --server S

It registers one endpoint (default namespace, version 1.0) with two methods:
  add(a, b)   -> a + b (the arguments arrive as JSON text; json.loads keeps big ints exact)
  fail(**kw)  raises ZeroDivisionError, sent back as the caller's oslo exception
Casts and fanouts are answered with their id only. Prints one line per request; exits when
the gateway ends the stream (0 when it ended OK). SIGTERM or SIGINT stop it cleanly: the
stream is cancelled (the gateway fails any call it still held) and it exits 0.
"""

import argparse
import json
import os
import queue
import signal
import sys


class Stop(Exception):
    """Raised in the main thread by SIGTERM or SIGINT."""


def raise_stop(signum, frame):
    raise Stop()


HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STUBS = os.path.join(HERE, '..', '..', 'bazel-bin', 'proto', 'py')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--addr', default=os.environ.get('CELLGW_ADDR') or '127.0.0.1:50051')
    parser.add_argument('--stubs', default=DEFAULT_STUBS)
    parser.add_argument('--cell', default='')
    parser.add_argument('--topic', required=True)
    parser.add_argument('--server', required=True)
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.abspath(args.stubs))
    import grpc
    from cellgw.v1 import gateway_pb2
    from cellgw.v1 import gateway_pb2_grpc

    # The requests the worker sends: the Registration first, then one Reply per Incoming.
    outgoing = queue.Queue()
    outgoing.put(gateway_pb2.ServeRequest(register=gateway_pb2.Registration(
        cell=args.cell, topic=args.topic, server=args.server,
        endpoints=[gateway_pb2.Endpoint(methods=['add', 'fail'])])))

    def requests():
        while True:
            item = outgoing.get()
            if item is None:
                return
            yield item

    def answer(incoming):
        reply = gateway_pb2.Reply(id=incoming.id)
        kwargs = json.loads(incoming.args_json or '{}')
        if incoming.method == 'fail':
            message = 'division by zero'
            reply.error.CopyFrom(gateway_pb2.RemoteError(
                exception_class='ZeroDivisionError', exception_module='builtins',
                message=message, traceback=['ZeroDivisionError: %s\n' % message],
                args_json=json.dumps([message]), kwargs_json='{}'))
        elif incoming.kind == gateway_pb2.Incoming.CALL:
            reply.result_json = json.dumps(kwargs.get('a', 0) + kwargs.get('b', 0))
        return gateway_pb2.ServeRequest(reply=reply)

    stub = gateway_pb2_grpc.CellGatewayStub(grpc.insecure_channel(args.addr))
    events = stub.Serve(requests())
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGINT, raise_stop)
    try:
        for event in events:
            if event.HasField('registered'):
                print('registered: consuming %s' % ' '.join(event.registered.queues),
                      flush=True)
                continue
            incoming = event.incoming
            outgoing.put(answer(incoming))
            print('answered: %s %s %s' % (gateway_pb2.Incoming.Kind.Name(incoming.kind),
                                         incoming.method, incoming.args_json), flush=True)
    except Stop:
        events.cancel()
        print('stopped by signal: stream cancelled', file=sys.stderr)
        return 0
    except grpc.RpcError as exc:
        print('stream ended: %s %s' % (exc.code().name, exc.details()), file=sys.stderr)
        return 1
    finally:
        outgoing.put(None)
    return 0


if __name__ == '__main__':
    sys.exit(main())
