"""What the Python tests of the gateway share (tests/python, tests/clients): where the tree
and the built binaries are, and waiting until the gateway reports a cell SERVING."""
import os
import threading

import grpc


def tree_root():
    """(source root, output root): the runfiles root twice under Bazel; otherwise the source
    tree and its bazel-bin (for a run by hand after `bazel build`)."""
    srcdir = os.environ.get('TEST_SRCDIR')
    if srcdir:
        root = os.path.join(srcdir, os.environ.get('TEST_WORKSPACE', 'cellgw'))
        return root, root
    repo = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         '..', '..'))
    return repo, os.path.join(repo, 'bazel-bin')


def wait_cell_serving(channel, cell, gateway, timeout_s, details=lambda: ''):
    """Blocks until grpc.health.v1.Health/Watch on `channel` reports "cell/<cell>" SERVING.

    A stream of changes, so nothing polls. The two messages are encoded by hand, as Debian
    has no Python health stubs: HealthCheckRequest{1: service}, HealthCheckResponse{1:
    status}, SERVING = 1. Raises AssertionError when the gateway process (a Popen) exits or
    `timeout_s` passes first; the message ends with details() (a log tail, say).
    """
    name = ('cell/' + cell).encode()
    call = channel.unary_stream('/grpc.health.v1.Health/Watch')(
        b'\x0a' + bytes([len(name)]) + name, timeout=timeout_s, wait_for_ready=True)

    def cancel_if_gateway_exits():
        gateway.wait()
        call.cancel()
    threading.Thread(target=cancel_if_gateway_exits, daemon=True).start()
    try:
        for response in call:
            if response[:2] == b'\x08\x01':
                return
    except grpc.RpcError as error:
        raise AssertionError('cell %s never SERVING (%s; cellgw exit status %s)%s' % (
            cell, error.code().name, gateway.poll(), details()))
    raise AssertionError('health stream ended early')
