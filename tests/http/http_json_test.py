#!/usr/bin/python3 -B
"""The HTTP/JSON API of the real cellgw binary, end to end.

A private RabbitMQ node, a real oslo.messaging server (tests/support/oslo_server.py: topic
"compute", server "host1", exchange "nova") and two cellgw processes with `http_listen`: an
open one, and one with bearer tokens and a policy. Requests go over plain HTTP from Python's
http.client (and once from curl, with the README's command line), and each check reads what
came back and, for calls, casts and fanouts, what the oslo server received.

Run by Bazel (sh_test //tests/http:http_json_test, tag "integration") under Debian's
/usr/bin/python3; helpers come from tests/ops/ops_support.py. Every process is stopped by
PID when the class ends.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.request
import uuid

_RUNFILES = os.path.join(os.environ.get('TEST_SRCDIR', ''),
                         os.environ.get('TEST_WORKSPACE', 'cellgw'))
sys.path.insert(0, os.path.join(_RUNFILES, 'tests', 'ops'))

import ops_support  # noqa: E402
from ops_support import Gateway, OpsTestCase, OsloServer, tmpdir, write_file  # noqa: E402

CELL = 'cell1'
SERVER = 'host1'
TOKEN = 'http-json-test-scheduler-' + uuid.uuid4().hex
TIMEOUT_S = 30
UID = re.compile(r'^[0-9a-f]{32}$')
GENERATED_ID = ops_support.GENERATED_REQUEST_ID

# The README's example ("Calling cellgw", HTTP/JSON), run as written except for the address.
README_ADDRESS = '127.0.0.1:8080'
README_CURL = r"""curl -sS http://127.0.0.1:8080/v1/call \
  -H 'Content-Type: application/json' -H 'X-Request-Id: req-readme-1' \
  -d '{"cell": "cell1", "topic": "compute", "method": "echo",
       "args": {"counter": 18446744073709551615, "big": 1180591620717411303424,
                "site": "Zürich ☃"},
       "context": {"user_id": "u1"}, "timeout_ms": 10000}'"""
# What it prints, with the call's msg_id as <msg_id>. `echo` returns the context and the
# keyword arguments it received; oslo.messaging's rabbit driver adds client_timeout.
README_OUTPUT = (
    '{"result": {"ctxt": {"user_id": "u1", "request_id": "req-readme-1", '
    '"client_timeout": null}, "kw": {"counter": 18446744073709551615, '
    '"big": 1180591620717411303424, "site": "Z\\u00fcrich \\u2603"}, "server": "host1"}, '
    '"msg_id": "<msg_id>"}\n')


def gateway_config(broker, extra=''):
    return ('listen: 127.0.0.1:0\n'
            'metrics_listen: 127.0.0.1:0\n'
            'http_listen: 127.0.0.1:0\n'
            'cells:\n'
            '  - name: %s\n'
            '    transport_url: %s\n'
            '    control_exchange: nova\n%s' % (CELL, broker.url(), extra))


class HttpJsonTest(OpsTestCase):

    @classmethod
    def setUpClass(cls):
        broker = cls.start_broker()
        cls.broker_url = broker.url()
        cls.oslo = cls.start_child(OsloServer(broker.url(), 'compute', server=SERVER,
                                              exchange='nova'))
        cls.oslo.wait_ready()

        work = tmpdir('http_json')
        cls.gateway = cls.start_child(Gateway(
            write_file(os.path.join(work, 'open.yaml'), gateway_config(broker)),
            name='cellgw-open'))
        tokens = write_file(os.path.join(work, 'tokens'), 'scheduler %s\n' % TOKEN, 0o600)
        cls.secured = cls.start_child(Gateway(
            write_file(os.path.join(work, 'secured.yaml'), gateway_config(
                broker,
                'security:\n'
                '  tokens_file: %s\n'
                '  policy:\n'
                '    - identity: scheduler\n'
                '      cells: [cell1]\n'
                '      topics: [compute]\n'
                '      methods: [echo]\n' % tokens)),
            name='cellgw-secured'))
        cls.http_port = cls.gateway.wait_serving()['http_port']
        cls.secured_http_port = cls.secured.wait_serving()['http_port']
        cls.gateway.wait_cells_connected([CELL])
        cls.secured.wait_cells_connected([CELL])

    # -- helpers ----------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, port=None):
        """(status, headers with lower-case names, body text) of one HTTP request."""
        connection = http.client.HTTPConnection('127.0.0.1', port or self.http_port,
                                                timeout=TIMEOUT_S)
        try:
            if isinstance(body, str):
                body = body.encode('utf-8')
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            text = response.read().decode('utf-8')
            return (response.status, {k.lower(): v for k, v in response.getheaders()}, text)
        finally:
            connection.close()

    def post(self, path, document, **kwargs):
        """POSTs `document` as JSON with raw UTF-8 (not \\u escapes) in the body."""
        headers = dict(kwargs.pop('headers', {}), **{'Content-Type': 'application/json'})
        return self.request('POST', path, json.dumps(document, ensure_ascii=False),
                            headers=headers, **kwargs)

    def target(self, method, **fields):
        return dict({'cell': CELL, 'topic': 'compute', 'method': method}, **fields)

    def error_of(self, text):
        body = json.loads(text)
        self.assertEqual(set(body) - {'remote_error'}, {'code', 'message'}, body)
        return body

    # -- calls ------------------------------------------------------------------------------

    def test_call_carries_big_integers_and_unicode_exactly_both_ways(self):
        marker = uuid.uuid4().hex
        args = {'u64max': 2 ** 64 - 1, 'big70': 2 ** 70, 'neg': -2 ** 63,
                'text': 'caf\u00e9 \u6771\u4eac \u2603 \U0001F600 "q" \\', 'marker': marker,
                'nested': [[{'deep': [None, True, 1.5]}]]}
        context = {'user_id': '\u00fcser', 'roles': ['admin']}
        status, headers, text = self.post('/v1/call', self.target(
            'echo', args=args, context=context, timeout_ms=TIMEOUT_S * 1000))
        self.assertEqual(status, 200, text)
        self.assertEqual(headers['content-type'], 'application/json')
        # The digits themselves, not a float's approximation of them.
        self.assertIn('18446744073709551615', text)
        self.assertIn('1180591620717411303424', text)
        body = json.loads(text)
        self.assertEqual(set(body), {'result', 'msg_id'})
        self.assertRegex(body['msg_id'], UID)
        self.assertEqual(body['result']['kw'], args)
        self.assertEqual(body['result']['server'], SERVER)
        self.assertEqual(body['result']['ctxt']['user_id'], '\u00fcser')
        invoked = self.oslo.wait_event(
            lambda e: e.get('event') == 'invoked' and e['kw'].get('marker') == marker,
            TIMEOUT_S, 'the echo call at the oslo server')
        self.assertEqual(invoked['method'], 'echo')
        self.assertEqual(invoked['kw'], args)
        self.assertEqual(invoked['ctxt']['roles'], ['admin'])

    def test_remote_exception_carries_every_remote_error_field(self):
        status, _, text = self.post('/v1/call', self.target('fail_custom'))
        self.assertEqual(status, 500, text)
        body = self.error_of(text)
        self.assertEqual(body['code'], 'UNKNOWN')
        self.assertEqual(body['message'],
                         'cellgw_test_exc.CellQuotaExceeded: Quota exceeded for cores: '
                         'requested 8')
        remote = body['remote_error']
        self.assertEqual(set(remote), {'exception_class', 'exception_module', 'message',
                                       'traceback', 'args', 'kwargs'})
        self.assertEqual(remote['exception_class'], 'CellQuotaExceeded')
        self.assertEqual(remote['exception_module'], 'cellgw_test_exc')
        self.assertEqual(remote['message'], 'Quota exceeded for cores: requested 8')
        self.assertIsInstance(remote['traceback'], list)
        self.assertTrue(any('fail_custom' in line for line in remote['traceback']),
                        remote['traceback'])
        self.assertEqual(remote['args'], ['Quota exceeded for cores: requested 8'])
        self.assertEqual(remote['kwargs'], {'resource': 'cores', 'requested': 8})

    def test_unknown_method_is_not_implemented_with_no_such_method(self):
        status, _, text = self.post('/v1/call', self.target('no_such_rpc'))
        self.assertEqual(status, 501, text)
        body = self.error_of(text)
        self.assertEqual(body['code'], 'UNIMPLEMENTED')
        self.assertEqual(body['remote_error']['exception_class'], 'NoSuchMethod')
        self.assertEqual(body['remote_error']['exception_module'],
                         'oslo_messaging.rpc.dispatcher')

    # -- one-way ----------------------------------------------------------------------------

    def test_cast_is_received_by_the_server(self):
        marker = uuid.uuid4().hex
        status, _, text = self.post('/v1/cast', self.target(
            'note', args={'marker': marker, 'n': 2 ** 64 - 1}, context={'user_id': 'u-cast'}))
        self.assertEqual(status, 200, text)
        body = json.loads(text)
        self.assertEqual(set(body), {'unique_id'})
        self.assertRegex(body['unique_id'], UID)
        event = self.oslo.wait_event(
            lambda e: e.get('event') == 'cast' and e['kw'].get('marker') == marker,
            TIMEOUT_S, 'the cast at the oslo server')
        self.assertEqual(event['kw']['n'], 2 ** 64 - 1)
        self.assertEqual(event['ctxt']['user_id'], 'u-cast')

    def test_fanout_is_received_by_the_server(self):
        marker = uuid.uuid4().hex
        status, _, text = self.post('/v1/fanout', self.target('note', args={'marker': marker}))
        self.assertEqual(status, 200, text)
        self.assertRegex(json.loads(text)['unique_id'], UID)
        event = self.oslo.wait_event(
            lambda e: e.get('event') == 'cast' and e['kw'].get('marker') == marker,
            TIMEOUT_S, 'the fanout at the oslo server')
        self.assertEqual(event['server'], SERVER)

    # -- request ids ------------------------------------------------------------------------

    def test_request_id_goes_to_the_server_and_comes_back(self):
        status, headers, text = self.post('/v1/call', self.target('echo'),
                                          headers={'X-Request-Id': 'req-http-json-7'})
        self.assertEqual(status, 200, text)
        self.assertEqual(headers['x-request-id'], 'req-http-json-7')
        self.assertEqual(json.loads(text)['result']['ctxt']['request_id'], 'req-http-json-7')

    def test_generated_request_id_is_the_one_the_server_saw(self):
        status, headers, text = self.post('/v1/call', self.target('echo'))
        self.assertEqual(status, 200, text)
        self.assertRegex(headers['x-request-id'], GENERATED_ID)
        self.assertEqual(json.loads(text)['result']['ctxt']['request_id'],
                         headers['x-request-id'])

    # -- cells ------------------------------------------------------------------------------

    def test_cells_lists_the_cell(self):
        status, _, text = self.request('GET', '/v1/cells')
        self.assertEqual(status, 200, text)
        cells = json.loads(text)['cells']
        self.assertEqual(len(cells), 1)
        self.assertEqual(cells[0]['name'], CELL)
        self.assertIs(cells[0]['connected'], True)
        self.assertEqual(cells[0]['control_exchange'], 'nova')
        self.assertEqual(cells[0]['transport_url'],
                         self.broker_url.replace('guest:guest@', 'guest:***@'))

    # -- bad requests -----------------------------------------------------------------------

    def test_body_that_is_not_json_is_bad_request(self):
        status, _, text = self.request('POST', '/v1/call', 'topic=compute&method=echo',
                                       headers={'Content-Type': 'application/json'})
        self.assertEqual(status, 400, text)
        body = self.error_of(text)
        self.assertEqual(body['code'], 'INVALID_ARGUMENT')
        self.assertTrue(body['message'].startswith('body: not valid JSON'), body)

    def test_wrong_typed_member_is_bad_request_naming_it(self):
        for member, value in (('topic', 5), ('args', [1, 2]), ('context', 'x'),
                              ('timeout_ms', '100')):
            with self.subTest(member=member):
                status, _, text = self.post('/v1/call', self.target('echo', **{member: value}))
                self.assertEqual(status, 400, text)
                self.assertTrue(self.error_of(text)['message'].startswith(member + ': '), text)

    def test_unknown_cell_is_not_found(self):
        status, _, text = self.post('/v1/cast', self.target('note', cell='cell9'))
        self.assertEqual(status, 404, text)
        body = self.error_of(text)
        self.assertEqual(body['code'], 'NOT_FOUND')
        self.assertIn('cell9', body['message'])

    # -- security ---------------------------------------------------------------------------

    def test_tokens_and_policy_decide_as_for_grpc(self):
        port = self.secured_http_port
        status, headers, text = self.post('/v1/call', self.target('echo'), port=port)
        self.assertEqual(status, 401, text)
        self.assertEqual(self.error_of(text)['code'], 'UNAUTHENTICATED')
        self.assertEqual(headers['www-authenticate'], 'Bearer')

        wrong = {'Authorization': 'Bearer not-the-token-0123456789'}
        status, _, text = self.post('/v1/call', self.target('echo'), headers=wrong, port=port)
        self.assertEqual(status, 401, text)

        bearer = {'Authorization': 'Bearer ' + TOKEN}
        marker = uuid.uuid4().hex
        status, _, text = self.post('/v1/cast', self.target('note', args={'marker': marker}),
                                    headers=bearer, port=port)
        self.assertEqual(status, 403, text)
        self.assertEqual(self.error_of(text)['code'], 'PERMISSION_DENIED')

        status, _, text = self.post('/v1/call', self.target('echo', args={'marker': marker}),
                                    headers=bearer, port=port)
        self.assertEqual(status, 200, text)
        self.assertEqual(json.loads(text)['result']['kw'], {'marker': marker})
        self.oslo.wait_event(lambda e: e.get('event') == 'invoked' and
                             e['kw'].get('marker') == marker, TIMEOUT_S, 'the allowed call')
        # The refused cast was sent first and never published: by the time the allowed call
        # ran, the server had seen nothing else carrying the marker.
        self.assertEqual([e['method'] for e in self.oslo.events('invoked')
                          if e['kw'].get('marker') == marker], ['echo'])

    # -- metrics ----------------------------------------------------------------------------

    def test_http_series_are_on_metrics(self):
        self.request('GET', '/v1/cells')
        self.request('GET', '/nowhere')
        scrape = urllib.request.urlopen(
            'http://127.0.0.1:%d/metrics' % self.gateway.metrics_port,
            timeout=TIMEOUT_S).read().decode()
        for series in ('cellgw_http_requests_total{code="200",route="/v1/cells"}',
                       'cellgw_http_requests_total{code="404",route="other"}',
                       'cellgw_http_request_duration_seconds_count{route="/v1/cells"}',
                       'cellgw_http_requests_in_flight{route="/v1/cells"}',
                       'cellgw_requests_total{cell="cell1",code="OK",kind="list_cells"}'):
            with self.subTest(series=series):
                match = re.search('^%s ([0-9.e+]+)$' % re.escape(series), scrape, re.M)
                self.assertIsNotNone(match, series)
                if 'in_flight' not in series:
                    self.assertGreaterEqual(float(match.group(1)), 1)

    # -- the README's example ---------------------------------------------------------------

    def test_readme_curl_example(self):
        curl = shutil.which('curl', path='/usr/bin:/bin')
        self.assertIsNotNone(curl, 'curl is not installed (deploy/install-deps.sh installs it)')
        command = README_CURL.replace(README_ADDRESS, '127.0.0.1:%d' % self.http_port)
        done = subprocess.run(['/bin/sh', '-c', command], capture_output=True,
                              env=ops_support.base_env(), timeout=TIMEOUT_S)
        self.assertEqual(done.returncode, 0, done.stderr)
        output = done.stdout.decode('utf-8')
        msg_id = json.loads(output)['msg_id']
        self.assertRegex(msg_id, UID)
        self.assertEqual(output.replace(msg_id, '<msg_id>'), README_OUTPUT)


if __name__ == '__main__':
    ops_support.main()
