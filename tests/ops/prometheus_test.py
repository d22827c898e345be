#!/usr/bin/python3 -B
"""A real Prometheus (Debian's `prometheus`) scrapes a running cellgw: the target is up and
the series carry the values the traffic driven through the real gateway, broker and
oslo.messaging server must produce; `promtool check metrics` finds nothing to report in
cellgw's /metrics.

Prometheus's HTTP API offers no push signal, so the test polls it with a deadline."""

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request


import ops_support  # before grpc: see tests/support/python_test_tree.py

import grpc
from ops_support import (Gateway, OsloServer, OpsTestCase, gateway_pb2, free_port,
                         poll_until, runfile, tmpdir, write_file)

PROMETHEUS = '/usr/bin/prometheus'
PROMTOOL = '/usr/bin/promtool'
# Prometheus scrapes every second; a loaded machine may take a few seconds to start it.
PROMETHEUS_TIMEOUT_S = 90


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode('utf-8')


class PrometheusTest(OpsTestCase):

    @classmethod
    def setUpClass(cls):
        for tool in (PROMETHEUS, PROMTOOL):
            if not os.access(tool, os.X_OK):
                raise AssertionError('%s is missing: install the Debian package '
                                     '"prometheus"' % tool)
        cls.broker = cls.start_broker()
        cls.oslo = cls.start_child(OsloServer(cls.broker.url(), 'compute'))
        cls.oslo.wait_ready()
        config = write_file(os.path.join(tmpdir(), 'cellgw.yaml'), """
listen: 127.0.0.1:0
metrics_listen: 127.0.0.1:0
cells:
  - name: cell1
    transport_url: %s
""" % cls.broker.url())
        cls.gateway = cls.start_child(Gateway(config))
        cls.gateway.wait_serving()
        cls.gateway.wait_cells_connected(['cell1'])
        cls.channel = cls.gateway.channel()
        cls.addClassCleanup(cls.channel.close)
        cls.stub = cls.gateway.stub(cls.channel)

        # Traffic before Prometheus starts: 3 good calls, 1 failing call, 2 casts.
        target = gateway_pb2.Target(topic='compute')
        for i in range(3):
            cls.stub.Call(gateway_pb2.CallRequest(target=target, method='echo',
                                                  args_json='{"i": %d}' % i), timeout=30)
        try:
            cls.stub.Call(gateway_pb2.CallRequest(target=target, method='fail_value'),
                          timeout=30)
            raise AssertionError('fail_value returned OK')
        except grpc.RpcError as exc:
            cls.failed_call_code = exc.code()
        for i in range(2):
            cls.stub.Cast(gateway_pb2.CastRequest(target=target, method='note',
                                                  args_json='{"n": %d}' % i), timeout=30)
        for i in range(2):
            cls.oslo.wait_event(lambda e, n=i: e.get('event') == 'cast' and
                                e['kw'].get('n') == n, 30, 'cast %d delivered' % i)

        cls.prometheus_port = free_port()
        data_dir = tmpdir('prometheus-data')
        prometheus_config = write_file(os.path.join(tmpdir(), 'prometheus.yml'), """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: cellgw
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:%d']
""" % cls.gateway.metrics_port)
        cls.prometheus = cls.start_child(ops_support.Child(
            [PROMETHEUS, '--config.file=' + prometheus_config,
             '--storage.tsdb.path=' + data_dir,
             '--web.listen-address=127.0.0.1:%d' % cls.prometheus_port],
            ops_support.base_env(), 'prometheus'))
        cls.api = 'http://127.0.0.1:%d' % cls.prometheus_port
        poll_until(lambda: http_get(cls.api + '/-/ready')[0], lambda s: s == 200,
                   PROMETHEUS_TIMEOUT_S, 'Prometheus ready')

    def targets(self):
        return json.loads(http_get(self.api + '/api/v1/targets')[1])['data']['activeTargets']

    def query(self, expr):
        """The instant vector of `expr` as {frozenset(labels): float}."""
        url = self.api + '/api/v1/query?' + urllib.parse.urlencode({'query': expr})
        body = json.loads(http_get(url)[1])
        self.assertEqual(body['status'], 'success', body)
        return {frozenset(r['metric'].items()): float(r['value'][1])
                for r in body['data']['result']}

    def assert_eventually(self, expr, expected):
        """Waits until `expr` is one series of value `expected` (a scrape is at most 1 s
        away) and returns its labels."""
        result = poll_until(lambda: self.query(expr),
                            lambda r: len(r) == 1 and list(r.values())[0] == expected,
                            PROMETHEUS_TIMEOUT_S, '%s == %s' % (expr, expected))
        return dict(list(result.keys())[0])

    def test_1_target_is_up(self):
        targets = poll_until(self.targets,
                             lambda t: len(t) == 1 and t[0]['health'] == 'up',
                             PROMETHEUS_TIMEOUT_S, 'cellgw target up')
        self.assertEqual(targets[0]['scrapeUrl'],
                         'http://127.0.0.1:%d/metrics' % self.gateway.metrics_port)
        self.assertEqual(targets[0]['lastError'], '')
        self.assert_eventually('up{job="cellgw"}', 1)

    def test_2_request_counters_carry_the_traffic(self):
        self.assertEqual(self.failed_call_code, grpc.StatusCode.UNKNOWN)
        labels = self.assert_eventually(
            'cellgw_requests_total{kind="call",code="OK"}', 3)
        self.assertEqual(labels['cell'], 'cell1')
        self.assert_eventually('cellgw_requests_total{kind="call",code="UNKNOWN"}', 1)
        self.assert_eventually('cellgw_requests_total{kind="cast",code="OK"}', 2)
        self.assert_eventually('sum(cellgw_requests_total{kind="fanout"}) or vector(0)', 0)
        self.assert_eventually('cellgw_requests_in_flight{kind="call",cell="cell1"}', 0)

    def test_3_latency_histogram_counts_every_request(self):
        self.assert_eventually('cellgw_request_duration_seconds_count{kind="call"}', 4)
        self.assert_eventually('cellgw_request_duration_seconds_count{kind="cast"}', 2)
        # Every request of this test finishes well within 60 s, the largest finite bucket.
        self.assert_eventually(
            'cellgw_request_duration_seconds_bucket{kind="call",le="60"}', 4)
        self.assert_eventually(
            'cellgw_request_duration_seconds_bucket{kind="call",le="+Inf"}', 4)
        buckets = self.query('cellgw_request_duration_seconds_bucket{kind="call"}')
        bounds = sorted(float(dict(k)['le']) for k in buckets)
        self.assertLessEqual(bounds[0], 0.0001, bounds)   # from ~100 us ...
        self.assertEqual(bounds[-2], 60, bounds)          # ... to 60 s, then +Inf

    def test_4_amqp_series_carry_the_broker_traffic(self):
        self.assert_eventually('cellgw_amqp_connection_up{cell="cell1"}', 1)
        # 4 call requests and 2 casts, each published and confirmed by the broker.
        self.assert_eventually('cellgw_amqp_messages_published_total{cell="cell1"}', 6)
        self.assert_eventually(
            'cellgw_amqp_messages_confirmed_total{cell="cell1",result="ack"}', 6)
        self.assert_eventually(
            'cellgw_amqp_messages_confirmed_total{cell="cell1",result="nack"}', 0)
        self.assert_eventually('cellgw_amqp_messages_returned_total{cell="cell1"}', 0)
        self.assert_eventually('cellgw_amqp_reconnects_total{cell="cell1"}', 0)
        self.assert_eventually('sum(cellgw_replies_dropped_total{cell="cell1"})', 0)
        labels = self.assert_eventually('cellgw_build_info', 1)
        self.assertRegex(labels['version'], r'^\d+\.\d+\.\d+')

    def test_5_live_traffic_reaches_prometheus(self):
        self.assert_eventually('cellgw_requests_total{kind="call",code="OK"}', 3)
        before = self.query('cellgw_requests_total{kind="call",code="OK"}')
        self.stub.Call(gateway_pb2.CallRequest(target=gateway_pb2.Target(topic='compute'),
                                               method='echo'), timeout=30)
        self.assert_eventually('cellgw_requests_total{kind="call",code="OK"}',
                               list(before.values())[0] + 1)
        try:
            self.stub.Call(gateway_pb2.CallRequest(
                target=gateway_pb2.Target(topic='compute', cell='nope'), method='echo'),
                timeout=30)
            self.fail('a call to an unknown cell returned OK')
        except grpc.RpcError as exc:
            self.assertEqual(exc.code(), grpc.StatusCode.NOT_FOUND)
        # Unknown cell names never become label values.
        self.assert_eventually(
            'cellgw_requests_total{kind="call",cell="unknown",code="NOT_FOUND"}', 1)
        self.assertEqual(self.query('cellgw_requests_total{cell="nope"}'), {})

    def test_promtool_check_metrics_reports_nothing(self):
        status, scrape = http_get('http://127.0.0.1:%d/metrics' % self.gateway.metrics_port)
        self.assertEqual(status, 200)
        self.assertIn('cellgw_requests_total{', scrape)
        result = subprocess.run([PROMTOOL, 'check', 'metrics'], input=scrape,
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout + result.stderr, '')


if __name__ == '__main__':
    ops_support.main()
