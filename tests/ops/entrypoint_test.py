#!/usr/bin/python3 -B
"""The shipped deployments, run outside Docker and Kubernetes against a real broker and the
example service compose.yaml runs, with TLS and tokens on as shipped:

 * the image: deploy/docker-entrypoint.sh with the image's default config
   (deploy/cellgw.example.yaml), its /run/secrets files replaced by the development ones
   deploy/make-dev-secrets.sh writes, and environment variables for everything per
   deployment;
 * the Kubernetes pod: the ConfigMap's config, the Deployment's environment and the
   Secrets' files laid out as the pod would see them (ops_support.kubernetes_pod_files).

It proves the start path (the entrypoint execs cellgw, so SIGTERM reaches it; the
environment overrides the file) and that the result serves what the manifests probe and
scrape: the Deployment's gRPC probes pass on the plaintext health listener while the gRPC
port needs TLS and a token, /metrics is at the ServiceMonitor's path, and calls with the
token reach the example service."""

import json
import os
import signal
import subprocess
import urllib.request

import yaml

import ops_support  # before grpc: see tests/support/python_test_tree.py

import grpc
from ops_support import (SERVING, Gateway, OpsTestCase, free_port, gateway_pb2,
                         health_check, runfile, status_name, tmpdir, write_file)

ENTRYPOINT = 'deploy/docker-entrypoint.sh'
EXAMPLE_CONFIG = 'deploy/cellgw.example.yaml'


def load_yaml_documents(relative):
    with open(runfile(relative)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def kubernetes_object(kind):
    return ops_support.kubernetes_objects()[kind]


def probes():
    """[(probe name, its grpc port, its service)] of the Deployment's container."""
    container = kubernetes_object('Deployment')['spec']['template']['spec']['containers'][0]
    return [(p, container[p]['grpc']['port'], container[p]['grpc'].get('service', ''))
            for p in ('readinessProbe', 'livenessProbe')]


def image_config(dev_secrets):
    """The image's config with its /run/secrets TLS files and tokens replaced by the
    development ones, as compose mounts them (the transport URL stays: the environment
    overrides it)."""
    with open(runfile(EXAMPLE_CONFIG)) as f:
        text = ops_support.substitute_secret_paths(f.read(), {
            'cellgw_tls_cert': dev_secrets['tls.crt'],
            'cellgw_tls_key': dev_secrets['tls.key'],
            'cellgw_tokens': dev_secrets['tokens']})
    return write_file(os.path.join(tmpdir('image'), 'cellgw.yaml'), text)


def entrypoint_env(config, extra):
    """What the image provides: cellgw on PATH, CELLGW_CONFIG set (deploy/Dockerfile)."""
    bin_dir = tmpdir('image-bin')
    link = os.path.join(bin_dir, 'cellgw')
    if not os.path.lexists(link):
        os.symlink(runfile(ops_support.CELLGW), link)
    env = {'PATH': bin_dir + ':/usr/bin:/bin', 'CELLGW_CONFIG': config}
    env.update(extra)
    return env


def free_ports(count):
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


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
        cls.dev_secrets = ops_support.make_dev_secrets('dev-secrets')
        cls.config = image_config(cls.dev_secrets)
        cls.port, cls.metrics_port, cls.health_port = free_ports(3)
        cls.env = entrypoint_env(cls.config, {
            'CELLGW_LISTEN': '127.0.0.1:%d' % cls.port,
            'CELLGW_METRICS_LISTEN': '127.0.0.1:%d' % cls.metrics_port,
            'CELLGW_HEALTH_LISTEN': '127.0.0.1:%d' % cls.health_port,
            'CELLGW_LOG_LEVEL': 'debug',
            'CELLGW_SHUTDOWN_GRACE_PERIOD': '10',
            'CELLGW_CELL_CELL1_TRANSPORT_URL_FILE': secret,
        })
        cls.gateway = cls.start_child(Gateway(None, env=cls.env, name='entrypoint',
                                              argv=[runfile(ENTRYPOINT)]))
        cls.serving = cls.gateway.wait_serving()
        cls.gateway.wait_cells_connected(['cell1'])
        cls.channel = ops_support.tls_channel(cls.gateway.address(), cls.dev_secrets['ca.pem'])
        cls.addClassCleanup(cls.channel.close)
        cls.health_channel = cls.gateway.health_channel()
        cls.addClassCleanup(cls.health_channel.close)
        cls.token = [('authorization', 'Bearer ' + cls.dev_secrets['token'])]

        # The Kubernetes pod, its two cells on this broker.
        config, env, _ = ops_support.kubernetes_pod_files(
            tmpdir('pod'), cls.dev_secrets,
            {'cell1-transport-url': broker.url(), 'cell2-transport-url': broker.url()})
        pod_ports = free_ports(3)
        env.update({'CELLGW_LISTEN': '127.0.0.1:%d' % pod_ports[0],
                    'CELLGW_METRICS_LISTEN': '127.0.0.1:%d' % pod_ports[1],
                    'CELLGW_HEALTH_LISTEN': '127.0.0.1:%d' % pod_ports[2]})
        cls.pod = cls.start_child(Gateway(config, env=env, name='kubernetes-pod'))
        cls.pod.wait_serving()
        cls.pod.wait_cells_connected(['cell1', 'cell2'])

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
        self.assertEqual(self.serving['health_port'], self.health_port)

    def test_the_image_config_serves_tls_with_tokens(self):
        self.assertEqual(self.serving['transport_security'], 'tls')
        self.assertEqual(self.serving['authentication'], 'on')
        stub = self.gateway.stub(self.channel)
        with self.assertRaises(grpc.RpcError) as raised:
            stub.ListCells(gateway_pb2.ListCellsRequest(), timeout=30)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        cells = stub.ListCells(gateway_pb2.ListCellsRequest(), metadata=self.token,
                               timeout=30)
        self.assertEqual([c.name for c in cells.cells], ['cell1'])
        # Plaintext is refused on the gRPC port.
        plaintext = self.gateway.channel()
        self.addCleanup(plaintext.close)
        with self.assertRaises(grpc.RpcError) as raised:
            self.gateway.stub(plaintext).ListCells(gateway_pb2.ListCellsRequest(),
                                                   metadata=self.token, timeout=10)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_the_deployments_probes_pass_on_the_health_listener_with_tls_on(self):
        config_map = kubernetes_object('ConfigMap')
        health_listen = yaml.safe_load(config_map['data']['cellgw.yaml'])['health_listen']
        with open(runfile(EXAMPLE_CONFIG)) as f:
            self.assertEqual(yaml.safe_load(f)['health_listen'], health_listen)
        for name, port, service in probes():
            with self.subTest(probe=name):
                # The probe's port is the configs' health listener, served in plaintext here
                # on the port CELLGW_HEALTH_LISTEN moved it to.
                self.assertEqual(port, int(health_listen.rsplit(':', 1)[1]))
                self.assertEqual(status_name(health_check(self.health_channel, service)),
                                 status_name(SERVING))
                # On the TLS port a plaintext probe (all the kubelet can do) fails.
                plaintext = self.gateway.channel()
                self.addCleanup(plaintext.close)
                with self.assertRaises(grpc.RpcError):
                    health_check(plaintext, service, timeout=5)
        self.assertEqual(status_name(health_check(self.health_channel, 'cell/cell1')),
                         status_name(SERVING))

    def test_the_health_listener_serves_nothing_but_health(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.gateway.stub(self.health_channel).ListCells(gateway_pb2.ListCellsRequest(),
                                                             metadata=self.token, timeout=10)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        request = ops_support.ops_reflection_pb2.ServerReflectionRequest(list_services='')
        with self.assertRaises(grpc.RpcError) as raised:
            list(ops_support.ops_reflection_pb2_grpc.ServerReflectionStub(
                self.health_channel).ServerReflectionInfo(iter([request]), timeout=10))
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        # Reflection stays on the gRPC port.
        [response] = ops_support.ops_reflection_pb2_grpc.ServerReflectionStub(
            self.channel).ServerReflectionInfo(iter([request]), timeout=10)
        self.assertIn('cellgw.v1.CellGateway',
                      {s.name for s in response.list_services_response.service})

    def test_the_kubernetes_pod_passes_its_probes_with_tls_on(self):
        health = self.pod.health_channel()
        self.addCleanup(health.close)
        for name, port, service in probes():
            with self.subTest(probe=name):
                self.assertEqual(status_name(health_check(health, service)),
                                 status_name(SERVING))
        channel = ops_support.tls_channel(self.pod.address(), self.dev_secrets['ca.pem'])
        self.addCleanup(channel.close)
        cells = self.pod.stub(channel).ListCells(gateway_pb2.ListCellsRequest(),
                                                 metadata=self.token, timeout=30)
        self.assertEqual([c.name for c in cells.cells], ['cell1', 'cell2'])

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
            metadata=[('x-request-id', 'entrypoint-1')] + self.token, timeout=30)
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
                         self.config)
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
