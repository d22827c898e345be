#!/usr/bin/python3 -B
"""grpc.health.v1 and server reflection on the real cellgw binary.

Two cells on two private brokers. Health follows the brokers: when cell1's broker is killed
with SIGKILL, "cell/cell1" turns NOT_SERVING while "cell/cell2" and the overall entries stay
SERVING; when the broker is back on the same port, "cell/cell1" is SERVING again.
Reflection lists cellgw.v1.CellGateway and serves its descriptors, from which a generic
client (what grpcurl does) builds the messages and calls the API.

Changes are observed on Watch streams (the server pushes them), never by polling.
"""

import os
import threading

from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

import ops_support  # before grpc: see tests/support/python_test_tree.py

import grpc
from ops_support import (NOT_SERVING, SERVING, Gateway, HealthWatch, OpsTestCase,
                         health_check, ops_reflection_pb2, ops_reflection_pb2_grpc,
                         status_name, tmpdir, write_file)

# Reconnecting after a broker restart takes the bridge's back-off plus a RabbitMQ boot
# (several seconds on a loaded 2-core machine).
RECOVERY_TIMEOUT_S = 180


class HealthTest(OpsTestCase):

    @classmethod
    def setUpClass(cls):
        # Two cold brokers boot in parallel; each is its own object, owned by one thread.
        brokers = {}
        errors = []

        def start(name):
            try:
                brokers[name] = cls.start_broker(name)
            except Exception as exc:  # reported below, on the main thread
                errors.append(exc)
        threads = [threading.Thread(target=start, args=(n,)) for n in ('rmq1', 'rmq2')]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        cls.broker1, cls.broker2 = brokers['rmq1'], brokers['rmq2']
        config = write_file(os.path.join(tmpdir(), 'cellgw.yaml'), """
listen: 127.0.0.1:0
cells:
  - name: cell1
    transport_url: %s
  - name: cell2
    transport_url: %s
""" % (cls.broker1.url(), cls.broker2.url()))
        cls.gateway = cls.start_child(Gateway(config))
        cls.gateway.wait_serving()
        cls.gateway.wait_cells_connected(['cell1', 'cell2'])
        cls.channel = cls.gateway.channel()
        cls.addClassCleanup(cls.channel.close)

    def check(self, service):
        return status_name(health_check(self.channel, service))

    def test_every_entry_is_serving_while_all_brokers_are_up(self):
        for service in ('', 'cellgw.v1.CellGateway', 'cell/cell1', 'cell/cell2'):
            with self.subTest(service=service):
                self.assertEqual(self.check(service), 'SERVING')

    def test_unknown_entry_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as raised:
            health_check(self.channel, 'cell/cell3')
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_cell_follows_its_broker_going_down_and_coming_back(self):
        watch = HealthWatch(self.channel, 'cell/cell1')
        self.addCleanup(watch.cancel)
        watch.wait_for(SERVING, 30)

        self.broker1.kill_hard()   # SIGKILL: no connection.close reaches the gateway
        down = watch.wait_for(NOT_SERVING, RECOVERY_TIMEOUT_S)
        # Only that cell: the other cell and the gateway as a whole still serve.
        self.assertEqual(self.check('cell/cell2'), 'SERVING')
        self.assertEqual(self.check(''), 'SERVING')
        self.assertEqual(self.check('cellgw.v1.CellGateway'), 'SERVING')
        self.assertEqual(self.check('cell/cell1'), 'NOT_SERVING')
        # Liveness ignores brokers: restarting the gateway would not bring one back.
        self.assertEqual(self.check('cellgw.liveness'), 'SERVING')
        # Calls to that cell fail fast as UNAVAILABLE while it is down.
        stub = self.gateway.stub(self.channel)
        with self.assertRaises(grpc.RpcError) as raised:
            stub.Cast(ops_support.gateway_pb2.CastRequest(
                target=ops_support.gateway_pb2.Target(cell='cell1', topic='compute'),
                method='note'), timeout=30)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)

        self.broker1.restart()     # same node, ports and data
        watch.wait_for(SERVING, RECOVERY_TIMEOUT_S, start=down + 1)
        self.assertEqual(self.check('cell/cell1'), 'SERVING')
        self.assertEqual(self.check('cell/cell2'), 'SERVING')

    def reflection(self, *requests):
        stub = ops_reflection_pb2_grpc.ServerReflectionStub(self.channel)
        return list(stub.ServerReflectionInfo(iter(requests), timeout=30))

    def test_reflection_lists_the_gateway_health_and_reflection_services(self):
        [response] = self.reflection(
            ops_reflection_pb2.ServerReflectionRequest(list_services=''))
        names = {s.name for s in response.list_services_response.service}
        self.assertIn('cellgw.v1.CellGateway', names)
        self.assertIn('grpc.health.v1.Health', names)
        self.assertIn('grpc.reflection.v1alpha.ServerReflection', names)

    def test_reflected_descriptors_are_enough_to_call_the_api(self):
        [response] = self.reflection(ops_reflection_pb2.ServerReflectionRequest(
            file_containing_symbol='cellgw.v1.CellGateway'))
        self.assertEqual(response.WhichOneof('message_response'),
                         'file_descriptor_response', response)
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in
                 response.file_descriptor_response.file_descriptor_proto]
        # A fresh pool, as a generic client has: only what reflection served.
        pool = descriptor_pool.DescriptorPool()
        pending = {f.name: f for f in files}
        while pending:
            ready = [f for f in pending.values()
                     if all(d not in pending for d in f.dependency)]
            self.assertTrue(ready, 'reflection left dependencies out: %s' % list(pending))
            for f in ready:
                pool.Add(f)
                del pending[f.name]
        service = pool.FindServiceByName('cellgw.v1.CellGateway')
        self.assertEqual({m.name for m in service.methods},
                         {'Cast', 'Call', 'Fanout', 'ListCells', 'Notify', 'Subscribe',
                          'Serve'})

        method = service.methods_by_name['ListCells']
        factory = message_factory.MessageFactory(pool)
        request_class = factory.GetPrototype(method.input_type)
        response_class = factory.GetPrototype(method.output_type)
        list_cells = self.channel.unary_unary(
            '/cellgw.v1.CellGateway/ListCells',
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString)
        cells = list_cells(request_class(), timeout=30)
        self.assertEqual([c.name for c in cells.cells], ['cell1', 'cell2'])
        for cell in cells.cells:
            self.assertIn('guest:***@', cell.transport_url)   # password redacted


if __name__ == '__main__':
    ops_support.main()
