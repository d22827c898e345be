#!/usr/bin/python3
"""Calling cellgw from Python: the demo's example of a client in another language.

Uses the stubs that Bazel generates from proto/cellgw/v1/gateway.proto with Debian's
grpc_python_plugin (`bazel build //proto:gateway_py_gen`, output in bazel-bin/proto/py) and
Debian's python3-grpcio and python3-protobuf; run it with /usr/bin/python3:

    python_client.py [--addr HOST:PORT] [--stubs DIR] [--version 6.0]

It makes two calls to the demo's compute services (deploy/demo/example_service.py):
get_host_info(), whose result JSON is parsed with json.loads (so 2**64-1 stays an exact
Python int), and reserve_cores(cores=64), which raises on the service: the remote exception
is read from the `grpc-status-details-bin` trailer as a google.rpc.Status whose details
hold a cellgw.v1.RemoteError. Exits 0 when both behaved so, 1 otherwise.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STUBS = os.path.join(HERE, '..', '..', 'bazel-bin', 'proto', 'py')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--addr', default=os.environ.get('CELLGW_ADDR') or '127.0.0.1:50051')
    parser.add_argument('--stubs', default=DEFAULT_STUBS,
                        help='directory of the generated stubs (default: bazel-bin/proto/py)')
    parser.add_argument('--version', default='6.0', help='compute API version to request')
    args = parser.parse_args(argv)

    # The stubs are plain modules (cellgw/v1/gateway_pb2.py, google/rpc/status_pb2.py);
    # `cellgw` and `google` are namespace packages, so google.protobuf still comes from
    # python3-protobuf.
    sys.path.insert(0, os.path.abspath(args.stubs))
    import grpc
    from cellgw.v1 import gateway_pb2
    from cellgw.v1 import gateway_pb2_grpc
    from google.rpc import status_pb2

    channel = grpc.insecure_channel(args.addr)
    gateway = gateway_pb2_grpc.CellGatewayStub(channel)
    target = gateway_pb2.Target(topic='compute', version=args.version)
    ok = True

    # 1. A call: the result is JSON text; json.loads keeps big integers exact.
    response = gateway.Call(gateway_pb2.CallRequest(
        target=target, method='get_host_info',
        context_json=json.dumps({'request_id': 'req-python-1', 'user_id': 'demo'})),
        timeout=30)
    info = json.loads(response.result_json)
    print('Call get_host_info -> host %s' % info['host'])
    print('  net_rx_bytes = %d (exactly 2**64-1: %s)' % (
        info['net_rx_bytes'], info['net_rx_bytes'] == 2 ** 64 - 1))
    print('  site = %s, operator = %s' % (info['site'], info['operator']))
    ok = ok and info['net_rx_bytes'] == 2 ** 64 - 1

    # 2. A call whose method raises: the details travel in the status trailer.
    try:
        gateway.Call(gateway_pb2.CallRequest(
            target=target, method='reserve_cores', args_json='{"cores": 64}'), timeout=30)
        print('Call reserve_cores -> unexpectedly succeeded')
        return 1
    except grpc.RpcError as error:
        print('Call reserve_cores -> %s: %s' % (error.code().name, error.details()))
        trailer = dict(error.trailing_metadata() or ()).get('grpc-status-details-bin')
        if trailer is None:
            print('  no grpc-status-details-bin trailer')
            return 1
        status = status_pb2.Status.FromString(trailer)
        for detail in status.details:
            remote = gateway_pb2.RemoteError()
            if detail.Unpack(remote):
                print('  google.rpc.Status code %d carries cellgw.v1.RemoteError:' % status.code)
                print('    exception_module = %s' % remote.exception_module)
                print('    exception_class  = %s' % remote.exception_class)
                print('    message          = %s' % remote.message)
                print('    kwargs           = %r' % json.loads(remote.kwargs_json))
                print('    traceback        = %d lines from the service' % len(remote.traceback))
                return 0 if ok and remote.exception_class == 'CoreQuotaExceeded' else 1
        print('  the status has no RemoteError detail')
        return 1


if __name__ == '__main__':
    sys.exit(main())
