#!/usr/bin/python3 -B
"""The gRPC server's limits on the real cellgw binary, as the config sets them (no broker:
the cell's URL points at a closed port, and only health and the server itself are used):

 * max_concurrent_streams bounds the RPCs one client connection has open at once; a
   further RPC waits in the client until one ends, while another connection is not held
   up;
 * keepalive: a client that pings every second with no call open gets GOAWAY
   ("too_many_pings") under the default policy, and is left alone under
   `keepalive: {min_ping_interval: 1, permit_without_calls: true}`, which proves the keys
   reach the server (gRPC's own defaults would close it just the same).

Waits are on what the server does (a Watch's first message, a channel leaving READY); the
one fixed window is how long the permissive case must survive, derived from how long the
default policy took."""

import os
import threading
import time


import ops_support  # before grpc: see tests/support/python_test_tree.py

import grpc
from ops_support import (SERVING, Gateway, HealthWatch, OpsTestCase, health_check, tmpdir,
                         write_file)

CELL = """cells:
  - name: cell1
    transport_url: rabbit://guest:guest@127.0.0.1:1/
"""


def own_channel(address, options=()):
    """A channel with a connection of its own (gRPC would share one between channels)."""
    return grpc.insecure_channel(address, options=[('grpc.use_local_subchannel_pool', 1)] +
                                 list(options))


class ConnectionWatch(object):
    """Records a channel's connectivity states; `lost` is set once it leaves READY."""

    def __init__(self, channel):
        self.ready = threading.Event()
        self.lost = threading.Event()
        self.states = []
        self._channel = channel
        channel.subscribe(self._on_state, try_to_connect=True)

    def _on_state(self, state):
        self.states.append(state)
        if state == grpc.ChannelConnectivity.READY:
            self.ready.set()
        elif self.ready.is_set():
            self.lost.set()

    def close(self):
        self._channel.unsubscribe(self._on_state)


class GrpcLimitsTest(OpsTestCase):

    def start_gateway(self, name, settings):
        config = write_file(os.path.join(tmpdir(name), 'cellgw.yaml'),
                            'listen: 127.0.0.1:0\n' + settings + CELL)
        gateway = Gateway(config, name=name)
        self.addCleanup(gateway.stop)
        gateway.wait_serving()
        return gateway

    def test_max_concurrent_streams_bounds_the_rpcs_of_one_connection(self):
        gateway = self.start_gateway('streams', 'max_concurrent_streams: 2\n')
        channel = own_channel(gateway.address())
        self.addCleanup(channel.close)
        watches = [HealthWatch(channel, 'cellgw.liveness') for _ in range(2)]
        for watch in watches:
            self.addCleanup(watch.cancel)
            watch.wait_for(SERVING, 30)   # both streams are open on the server
        # A third RPC on the same connection is not started while both are open...
        with self.assertRaises(grpc.RpcError) as raised:
            health_check(channel, 'cellgw.liveness', timeout=2)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        # ...another connection is not held up...
        other = own_channel(gateway.address())
        self.addCleanup(other.close)
        self.assertEqual(health_check(other, 'cellgw.liveness'), SERVING)
        # ...and once a stream ends, the connection takes the RPC.
        watches[0].cancel()
        self.assertEqual(health_check(channel, 'cellgw.liveness', timeout=30), SERVING)

    def test_keepalive_policy_is_the_configured_one(self):
        # A client that pings every second, even with no call open.
        pinging = [('grpc.keepalive_time_ms', 1000),
                   ('grpc.keepalive_permit_without_calls', 1),
                   ('grpc.http2.max_pings_without_data', 0)]

        default = self.start_gateway('keepalive-default', '')
        channel = own_channel(default.address(), pinging)
        self.addCleanup(channel.close)
        watch = ConnectionWatch(channel)
        self.addCleanup(watch.close)
        started = time.monotonic()
        self.assertEqual(health_check(channel, 'cellgw.liveness'), SERVING)
        self.assertTrue(watch.lost.wait(60), 'the default policy never closed the '
                        'connection of a client pinging every second: %s' % watch.states)
        closed_after = time.monotonic() - started

        permissive = self.start_gateway(
            'keepalive-permissive', 'keepalive: {min_ping_interval: 1, '
                                    'permit_without_calls: true}\n')
        # Two seconds between pings: above the configured minimum of one.
        channel = own_channel(permissive.address(), [('grpc.keepalive_time_ms', 2000)] +
                              pinging[1:])
        self.addCleanup(channel.close)
        watch = ConnectionWatch(channel)
        self.addCleanup(watch.close)
        self.assertEqual(health_check(channel, 'cellgw.liveness'), SERVING)
        # Under gRPC's defaults this client would be gone within about twice the time the
        # one above lasted (its pings come half as often): three times that, it is not.
        window = max(10.0, 3 * closed_after)
        self.assertFalse(watch.lost.wait(window),
                         'closed under min_ping_interval 1: %s' % watch.states)


if __name__ == '__main__':
    ops_support.main()
