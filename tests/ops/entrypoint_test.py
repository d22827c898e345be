#!/usr/bin/python3 -B
"""The container's entrypoint, outside Docker: deploy/docker-entrypoint.sh with the image's
default config (deploy/cellgw.example.yaml) and only environment variables for everything
per deployment, against a real broker and the example service compose.yaml runs.

It proves the image's start path: the entrypoint execs cellgw (so SIGTERM reaches it), the
environment overrides the file (listen addresses, the cell's transport URL from a secret
file), and the result serves what the Kubernetes manifests probe and scrape: the health
entries named by the probes, /metrics at the ServiceMonitor's path, and calls to the
example service."""

import json
import os
import signal
import subprocess
import urllib.request

import yaml

import ops_support
from ops_support import (SERVING, Gateway, OpsTestCase, free_port, gateway_pb2,
                         health_check, runfile, status_name, tmpdir, write_file)

ENTRYPOINT = 'deploy/docker-entrypoint.sh'
EXAMPLE_CONFIG = 'deploy/cellgw.example.yaml'


def load_yaml_documents(relative):
    with open(runfile(relative)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def kubernetes_object(kind):
    for name in sorted(os.listdir(runfile('deploy/kubernetes'))):
        for doc in load_yaml_documents('deploy/kubernetes/' + name):
            if doc.get('kind') == kind:
                return doc
    raise AssertionError('no %s in deploy/kubernetes' % kind)


def entrypoint_env(extra):
    """What the image provides: cellgw on PATH, CELLGW_CONFIG set (deploy/Dockerfile)."""
    bin_dir = tmpdir('image-bin')
    link = os.path.join(bin_dir, 'cellgw')
    if not os.path.lexists(link):
        os.symlink(runfile(ops_support.CELLGW), link)
    env = {'PATH': bin_dir + ':/usr/bin:/bin', 'CELLGW_CONFIG': runfile(EXAMPLE_CONFIG)}
    env.update(extra)
    return env


class EntrypointTest(OpsTestCase):

    @classmethod
    def setUpClass(cls):
        broker = cls.start_broker()
        # The example service exactly as compose.yaml runs it, but on this test's broker.
        compose = load_yaml_documents('deploy/compose.yaml')[0]
        command = list(compose['services']['example-service']['command'])
        command[command.index('--url') + 1] = broker.url()
        cls.service = cls.start_child(ops_support.Child(
            [ops_support.PYTHON, runfile('deploy/demo/example_service.py')] + command,
            ops_support.base_env({'PYTHONDONTWRITEBYTECODE': '1'}), 'example-service',
            stdout_pipe=True))
        cls.service.stdout.wait_for(lambda l: l.startswith('compute-1: ready'),
                                    ops_support.START_TIMEOUT_S, 'example service ready')

        secret = write_file(os.path.join(tmpdir(), 'cell1_transport_url'),
                            broker.url() + '\n', 0o600)
        cls.port, cls.metrics_port = free_port(), free_port()
        while cls.metrics_port == cls.port:
            cls.metrics_port = free_port()
        cls.env = entrypoint_env({
            'CELLGW_LISTEN': '127.0.0.1:%d' % cls.port,
            'CELLGW_METRICS_LISTEN': '127.0.0.1:%d' % cls.metrics_port,
            'CELLGW_LOG_LEVEL': 'debug',
            'CELLGW_SHUTDOWN_GRACE_PERIOD': '10',
            'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE': secret,
        })
        cls.gateway = cls.start_child(Gateway(None, env=cls.env, name='entrypoint',
                                              argv=[runfile(ENTRYPOINT)]))
        cls.serving = cls.gateway.wait_serving()
        cls.gateway.wait_cells_connected(['cell1'])
        cls.channel = cls.gateway.channel()
        cls.addClassCleanup(cls.channel.close)

    def test_entrypoint_execs_cellgw_itself(self):
        # The PID the container runtime signals is cellgw, not a shell waiting on it.
        self.assertEqual(os.path.realpath('/proc/%d/exe' % self.gateway.pid),
                         os.path.realpath(runfile(ops_support.CELLGW)))

    def test_environment_overrides_the_image_config(self):
        with open(runfile(EXAMPLE_CONFIG)) as f:
            self.assertEqual(yaml.safe_load(f)['listen'], '0.0.0.0:50051')
        self.assertEqual(self.serving['listen'], '127.0.0.1:%d' % self.port)
        self.assertEqual(self.serving['port'], self.port)
        self.assertEqual(self.serving['metrics_port'], self.metrics_port)

    def test_health_entries_the_probes_name_are_serving(self):
        container = kubernetes_object('Deployment')['spec']['template']['spec'][
            'containers'][0]
        services = {container[p]['grpc'].get('service', '')
                    for p in ('readinessProbe', 'livenessProbe')}
        for service in sorted(services | {'cell/cell1'}):
            with self.subTest(service=service):
                self.assertEqual(status_name(health_check(self.channel, service)),
                                 status_name(SERVING))

    def test_metrics_are_served_at_the_service_monitor_path(self):
        [endpoint] = kubernetes_object('ServiceMonitor')['spec']['endpoints']
        url = 'http://127.0.0.1:%d%s' % (self.metrics_port, endpoint['path'])
        with urllib.request.urlopen(url, timeout=10) as response:
            self.assertEqual(response.status, 200)
            body = response.read().decode()
        self.assertIn('cellgw_build_info{', body)
        self.assertIn('cellgw_amqp_connection_up{cell="cell1",connection="0"} 1', body)

    def test_calls_reach_the_compose_example_service(self):
        stub = self.gateway.stub(self.channel)
        # control_exchange "nova" comes from the image config; the service's --exchange
        # from compose.yaml: the call only arrives when they agree.
        response = stub.Call(
            gateway_pb2.CallRequest(target=gateway_pb2.Target(topic='compute',
                                                              version='6.0'),
                                    method='get_host_info'),
            metadata=[('x-request-id', 'entrypoint-1')], timeout=30)
        info = json.loads(response.result_json)
        self.assertEqual(info['host'], 'compute-1')
        self.assertEqual(info['net_rx_bytes'], 2 ** 64 - 1)
        self.service.stdout.wait_for(
            lambda l: l == 'compute-1: get_host_info() [request_id=entrypoint-1]', 30,
            'the service saw the call')

    def test_check_config_and_other_options_pass_through(self):
        def run(*args):
            return subprocess.run([runfile(ENTRYPOINT)] + list(args), env=self.env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=60)
        result = run('--check-config')   # no FILE: the image's config, as served
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, 'cellgw: %s: configuration is valid (1 cell)\n' %
                         runfile(EXAMPLE_CONFIG))
        bad_env = dict(self.env, CELLGW_LISTEN='0.0.0.0')
        result = subprocess.run([runfile(ENTRYPOINT), '--check-config'], env=bad_env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn('CELLGW_LISTEN: must be host:port', result.stderr)
        result = run('--version')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r'^cellgw \d+\.\d+\.\d+\n$')
        result = run('echo', 'a shell command')   # anything else runs instead of cellgw
        self.assertEqual(result.stdout, 'a shell command\n')

    def test_z_sigterm_to_the_entrypoint_pid_stops_cellgw_cleanly(self):
        # Runs last (name order): it ends the shared gateway.
        self.gateway.signal(signal.SIGTERM)
        self.assertEqual(self.gateway.wait(), 0)
        records = [json.loads(line) for line in self.gateway.stderr.join()]
        messages = [r['message'] for r in records]
        self.assertIn('signal received', messages)
        self.assertEqual(messages[-1], 'stopped')
        shutdown = [r for r in records if r['message'] == 'shutting down']
        self.assertEqual(shutdown[0]['grace_seconds'], 10)   # CELLGW_SHUTDOWN_GRACE_PERIOD


if __name__ == '__main__':
    ops_support.main()
