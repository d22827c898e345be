#!/usr/bin/python3 -B
"""The real cellgw's stderr is one JSON object per line with time, level and message; each
request's line carries its request id (the caller's x-request-id, or a generated
req-<uuid4>), cell, topic, method, kind, duration and outcome; the same id comes back in the
response's initial metadata and reaches the oslo.messaging service as the context's
request_id (unless the caller's context has one). No password ever appears, neither the
one cellgw connects with nor a wrong one a broker refuses.

setUpClass drives all the traffic and stops the gateway; each test then checks one
promise against what was recorded."""

import json
import os


import ops_support  # before grpc: see tests/support/python_test_tree.py

import grpc
from ops_support import (GENERATED_REQUEST_ID, RFC3339_UTC, Gateway, OsloServer,
                         OpsTestCase, gateway_pb2, tmpdir, write_file)

USER = 'opsuser'
PASSWORD = 'Opz-pa55word-7781'
WRONG_PASSWORD = 'Wr0ng-pa55word-4409'
REQUEST_FIELDS = ['request_id', 'kind', 'cell', 'topic', 'method', 'duration_seconds',
                  'outcome']


def request_id_of(metadata):
    values = [v for k, v in (metadata or ()) if k == 'x-request-id']
    return values[0] if len(values) == 1 else values


class JsonLogTest(OpsTestCase):

    @classmethod
    def setUpClass(cls):
        broker = cls.start_broker()
        broker.ctl('add_user', USER, PASSWORD)
        broker.ctl('set_permissions', '-p', '/', USER, '.*', '.*', '.*')
        cls.oslo = cls.start_child(OsloServer(broker.url(), 'compute'))
        cls.oslo.wait_ready()
        # cell1's URL, with its password, comes from a file (a mounted secret); cell2 names
        # the right user with a wrong password, so the broker refuses it and cellgw logs
        # the failures.
        secret = write_file(os.path.join(tmpdir(), 'cell1.url'),
                            'rabbit://%s:%s@127.0.0.1:%d/\n' % (USER, PASSWORD,
                                                               broker.amqp_port), 0o600)
        config = write_file(os.path.join(tmpdir(), 'cellgw.yaml'), """
listen: 127.0.0.1:0
metrics_listen: 127.0.0.1:0
log_level: debug
cells:
  - name: cell1
    transport_url_file: %s
  - name: cell2
    transport_url: rabbit://%s:%s@127.0.0.1:%d/
""" % (secret, USER, WRONG_PASSWORD, broker.amqp_port))
        cls.gateway = cls.start_child(Gateway(config))
        cls.gateway.wait_serving()
        cls.gateway.wait_cells_connected(['cell1'])
        cls.gateway.wait_log(lambda r: r.get('message') == 'broker connection attempt failed'
                             and r.get('cell') == 'cell2', 60, 'cell2 refused by the broker')

        target = gateway_pb2.Target(cell='cell1', topic='compute')
        channel = cls.gateway.channel()
        stub = cls.gateway.stub(channel)
        cls.metadata = {}   # case -> x-request-id in the response's initial metadata

        def call(case, method='echo', header=None, context_json='', argument='case'):
            metadata = [('x-request-id', header)] if header is not None else None
            request = gateway_pb2.CallRequest(target=target, method=method,
                                              args_json=json.dumps({argument: case}),
                                              context_json=context_json)
            try:
                _, rpc = stub.Call.with_call(request, metadata=metadata, timeout=30)
                cls.metadata[case] = (grpc.StatusCode.OK, request_id_of(rpc.initial_metadata()))
            except grpc.RpcError as exc:
                cls.metadata[case] = (exc.code(), request_id_of(exc.initial_metadata()))

        call('given', header='ops-req-0001')
        call('generated')
        call('too_long', header='x' * 200)
        call('context_has_one', header='ops-req-0003',
             context_json='{"request_id": "ctx-own-id", "user": "u1"}')
        # fail_value(what) raises ValueError(what).
        call('failing', method='fail_value', header='ops-req-0004', argument='what')
        _, rpc = stub.Cast.with_call(
            gateway_pb2.CastRequest(target=target, method='note',
                                    args_json='{"case": "cast"}'),
            metadata=[('x-request-id', 'ops-cast-0005')], timeout=30)
        cls.metadata['cast'] = (grpc.StatusCode.OK, request_id_of(rpc.initial_metadata()))
        cls.oslo.wait_event(lambda e: e.get('event') == 'cast', 30, 'cast delivered')
        channel.close()

        # Every request has logged its line once its id was returned; stop the gateway and
        # take everything it wrote.
        for code, request_id in cls.metadata.values():
            cls.gateway.wait_log(lambda r, i=request_id: r.get('message') == 'request finished'
                                 and r.get('request_id') == i, 30, 'log line of ' + str(request_id))
        cls.exit_code = cls.gateway.stop()
        cls.lines = cls.gateway.stderr.join()
        with open(cls.gateway.stderr_path, 'rb') as f:
            cls.raw_stderr = f.read()
        cls.records = [json.loads(line) for line in cls.lines]
        cls.invoked = {e['kw'].get('case', e['kw'].get('what')): e
                       for e in cls.oslo.events('invoked')}

    def request_line(self, request_id):
        lines = [r for r in self.records
                 if r.get('message') == 'request finished' and r.get('request_id') == request_id]
        self.assertEqual(len(lines), 1, request_id)
        return lines[0]

    def test_every_line_is_a_json_object_starting_with_time_level_message(self):
        self.assertEqual(self.exit_code, 0)
        self.assertGreater(len(self.lines), 8)
        for line in self.lines:
            record = json.loads(line)   # raises on anything that is not JSON
            self.assertIsInstance(record, dict, line)
            self.assertEqual(list(record)[:3], ['time', 'level', 'message'], line)
            self.assertRegex(record['time'], RFC3339_UTC)
            self.assertIn(record['level'], ('debug', 'info', 'warning', 'error'))
            self.assertIsInstance(record['message'], str)
            self.assertNotEqual(record['message'], '')

    def test_request_lines_carry_the_request_fields(self):
        code, request_id = self.metadata['given']
        record = self.request_line(request_id)
        for field in REQUEST_FIELDS:
            self.assertIn(field, record)
        self.assertEqual(record['kind'], 'call')
        self.assertEqual(record['cell'], 'cell1')
        self.assertEqual(record['topic'], 'compute')
        self.assertEqual(record['method'], 'echo')
        self.assertEqual(record['outcome'], 'OK')
        self.assertIsInstance(record['duration_seconds'], float)
        self.assertGreaterEqual(record['duration_seconds'], 0)

        failing = self.request_line('ops-req-0004')
        self.assertEqual(failing['method'], 'fail_value')
        self.assertEqual(failing['outcome'], 'UNKNOWN')
        self.assertEqual(failing['level'], 'warning')
        self.assertEqual(failing['error'], 'ValueError: invalid value: failing')
        cast = self.request_line('ops-cast-0005')
        self.assertEqual(cast['kind'], 'cast')
        self.assertEqual(cast['outcome'], 'OK')

    def test_callers_request_id_is_logged_returned_and_sent_to_the_service(self):
        for case, expected in (('given', 'ops-req-0001'), ('failing', 'ops-req-0004'),
                               ('cast', 'ops-cast-0005')):
            with self.subTest(case):
                self.assertEqual(self.metadata[case][1], expected)
                self.request_line(expected)
        self.assertEqual(self.metadata['given'][0], grpc.StatusCode.OK)
        self.assertEqual(self.metadata['failing'][0], grpc.StatusCode.UNKNOWN)
        self.assertEqual(self.invoked['given']['ctxt']['request_id'], 'ops-req-0001')
        self.assertEqual(self.invoked['failing']['ctxt']['request_id'], 'ops-req-0004')
        self.assertEqual(self.invoked['cast']['ctxt']['request_id'], 'ops-cast-0005')

    def test_request_id_is_generated_when_missing_or_unusable(self):
        for case in ('generated', 'too_long'):
            with self.subTest(case):
                code, request_id = self.metadata[case]
                self.assertEqual(code, grpc.StatusCode.OK)
                self.assertRegex(request_id, GENERATED_REQUEST_ID)
                self.request_line(request_id)
                self.assertEqual(self.invoked[case]['ctxt']['request_id'], request_id)
        self.assertNotEqual(self.metadata['generated'][1], self.metadata['too_long'][1])

    def test_callers_context_request_id_is_kept(self):
        self.assertEqual(self.metadata['context_has_one'][1], 'ops-req-0003')
        self.request_line('ops-req-0003')
        ctxt = self.invoked['context_has_one']['ctxt']
        self.assertEqual(ctxt['request_id'], 'ctx-own-id')
        self.assertEqual(ctxt['user'], 'u1')

    def test_no_password_appears_anywhere(self):
        failures = [r for r in self.records
                    if r['message'] == 'broker connection attempt failed']
        self.assertTrue(failures)   # the refused cell was logged ...
        for password in (PASSWORD, WRONG_PASSWORD):
            with self.subTest(password=password):
                # ... and neither password is in any byte cellgw wrote.
                self.assertNotIn(password.encode(), self.raw_stderr)


if __name__ == '__main__':
    ops_support.main()
