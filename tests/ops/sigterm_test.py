#!/usr/bin/python3 -B
"""SIGTERM while calls are in flight drops none of them.

20 calls to the oslo server's slow(4) are accepted by the real cellgw and running in the
service when the gateway gets SIGTERM. Then: health turns NOT_SERVING (overall and per
cell), a new call is refused with UNAVAILABLE, every in-flight call still completes OK
with its result, and cellgw exits 0 after closing its broker connections.

"In flight" is known, not guessed: the oslo server reports each invocation as it starts."""

import json
import os
import signal


import ops_support  # before grpc: see tests/support/python_test_tree.py

import grpc
from ops_support import (NOT_SERVING, SERVING, Gateway, HealthWatch, OpsTestCase,
                         OsloServer, gateway_pb2, tmpdir, write_file)

CALLS = 20
# Long enough that all calls are still running when SIGTERM follows the last start.
SLOW_SECONDS = 4


class SigtermTest(OpsTestCase):

    @classmethod
    def setUpClass(cls):
        broker = cls.start_broker()
        cls.oslo = cls.start_child(OsloServer(broker.url(), 'compute'))
        cls.oslo.wait_ready()
        config = write_file(os.path.join(tmpdir(), 'cellgw.yaml'), """
listen: 127.0.0.1:0
shutdown_grace_period: 60
cells:
  - name: cell1
    transport_url: %s
""" % broker.url())
        cls.gateway = cls.start_child(Gateway(config))
        cls.gateway.wait_serving()
        cls.gateway.wait_cells_connected(['cell1'])

    def test_sigterm_during_traffic_drops_no_call(self):
        channel = self.gateway.channel()
        self.addCleanup(channel.close)
        stub = self.gateway.stub(channel)
        watches = [HealthWatch(channel, name) for name in
                   ('', 'cellgw.v1.CellGateway', 'cell/cell1')]
        for watch in watches:
            self.addCleanup(watch.cancel)
            watch.wait_for(SERVING, 30)

        target = gateway_pb2.Target(topic='compute')
        # Each call is told apart by its request id, which reaches the service's context.
        futures = [stub.Call.future(gateway_pb2.CallRequest(
            target=target, method='slow', args_json=json.dumps({'seconds': SLOW_SECONDS})),
            metadata=[('x-request-id', 'sigterm-%d' % n)], timeout=120)
            for n in range(CALLS)]
        for n in range(CALLS):
            self.oslo.wait_event(lambda e, n=n: e.get('event') == 'invoked' and
                                 e['ctxt'].get('request_id') == 'sigterm-%d' % n, 60,
                                 'slow call %d running in the service' % n)
        self.gateway.signal(signal.SIGTERM)
        shutdown = self.gateway.wait_log(lambda r: r.get('message') == 'shutting down', 30,
                                         '"shutting down" log line')
        # The gateway's own count: every call was still in flight when the signal came.
        self.assertEqual(shutdown['in_flight'], CALLS)
        self.assertEqual(shutdown['grace_seconds'], 60)
        for watch in watches:
            watch.wait_for(NOT_SERVING, 30)

        # The gateway is draining: a new call is refused at once.
        with self.assertRaises(grpc.RpcError) as raised:
            stub.Call(gateway_pb2.CallRequest(target=target, method='echo'), timeout=30)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)

        for n, future in enumerate(futures):
            with self.subTest(call=n):
                response = future.result(timeout=120)
                self.assertEqual(json.loads(response.result_json),
                                 'slept %d' % SLOW_SECONDS)

        self.assertEqual(self.gateway.wait(timeout=60), 0)
        records = [json.loads(line) for line in self.gateway.stderr.join()]
        finished = [r for r in records if r['message'] == 'request finished' and
                    r['method'] == 'slow']
        self.assertEqual(sorted(r['request_id'] for r in finished),
                         sorted('sigterm-%d' % n for n in range(CALLS)))
        self.assertTrue(all(r['outcome'] == 'OK' for r in finished), finished)
        messages = [r['message'] for r in records]
        self.assertNotIn('grace period over with requests still in flight', messages)
        self.assertEqual(messages[-1], 'stopped')


if __name__ == '__main__':
    ops_support.main()
