"""What the Python tests of the gateway share (tests/python, tests/clients, tests/ops): where
the tree and the built binaries are, waiting until the gateway reports a cell SERVING, and gRPC
set up for a test process that also starts others: fork support off, and kept initialised for the
whole process (importing this module before grpc is enough)."""
import os
import sys
import threading

# gRPC's fork support (on by default in Debian's python3-grpcio) runs handlers around every
# fork() while gRPC is initialised: they stop gRPC's executor threads by joining them. A test
# that starts cellgw-cli while one of its channels is busy on the default executor then
# deadlocks in subprocess's fork: the executor thread waits to enter gRPC, which the handler has
# blocked, and the handler waits for that thread (seen in CI's ASan stage: cli_client_test hung
# until its timeout). The children exec at once and never use gRPC, so the tests need none of
# it. Read when gRPC is first imported and initialised, hence the check.
if 'grpc' in sys.modules:
    raise ImportError('import python_test_tree (or ops_support) before grpc: '
                      'GRPC_ENABLE_FORK_SUPPORT must be set first')
os.environ['GRPC_ENABLE_FORK_SUPPORT'] = 'false'

import grpc  # noqa: E402

# gRPC core shuts itself down when a process's last channel closes, on a thread of its own,
# and starts again with the next channel. Debian's python3-grpcio (1.51) races there: a test
# that closes one channel and opens the next (as setUpClass does for two gateways) now and
# then deadlocks in grpc_init against the "grpc_shutdown" thread, or aborts with "thd.h:
# assertion failed: state_ == FAILED" (grpc/grpc#38251). A channel held for the process's life
# (never connected: channels connect lazily) keeps the core up, so it never shuts down
# between channels.
_KEEP_GRPC_INITIALISED = grpc.insecure_channel('127.0.0.1:9')


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
