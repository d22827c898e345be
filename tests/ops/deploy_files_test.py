#!/usr/bin/python3 -B
"""deploy/: the Dockerfile, compose.yaml and the Kubernetes manifests parse, agree with each
other and with what the gateway serves, ship secure configs, and the configs they assemble
are valid for the real cellgw binary (`cellgw --check-config` with the environment and
secret files each of them provides; the TLS files and tokens made by
deploy/make-dev-secrets.sh).

What the gateway serves, by its contract: gRPC over TLS (with grpc.health.v1 entries "",
"cellgw.v1.CellGateway", "cellgw.liveness" and "cell/<name>") on `listen`, the same health
entries in plaintext and nothing else on `health_listen`, Prometheus metrics at /metrics
on `metrics_listen`. entrypoint_test.py checks the same names, ports and path against live
gateways started from these files; here they are checked against every file that
references them."""

import os
import re
import shlex
import subprocess
import unittest
import urllib.parse

import yaml

import ops_support
from ops_support import runfile, tmpdir, write_file

METRICS_PATH = '/metrics'
GLOBAL_VARIABLES = {'CELLGW_LISTEN', 'CELLGW_METRICS_LISTEN', 'CELLGW_HEALTH_LISTEN',
                    'CELLGW_LOG_LEVEL', 'CELLGW_SHUTDOWN_GRACE_PERIOD',
                    'CELLGW_CONFIG'}   # read by docker-entrypoint.sh
# Libraries every debian:bookworm-slim image already has (Priority: required, or needed
# by apt itself), so the runtime stage need not install them.
SLIM_BASE_PACKAGES = {'libc6', 'libgcc-s1', 'libstdc++6', 'zlib1g'}


def read(relative):
    with open(runfile(relative)) as f:
        return f.read()


def port_of(address):
    return int(address.rsplit(':', 1)[1])


def cell_variable_name(cell):
    return re.sub(r'[^A-Z0-9]', '_', cell.upper())


def known_variables(cells):
    names = set(GLOBAL_VARIABLES)
    for cell in cells:
        stem = 'CELLGW_CELL_%s_TRANSPORT_URL' % cell_variable_name(cell)
        names |= {stem, stem + '_FILE'}
    return names


def parse_dockerfile(text):
    """[(stage name, [(INSTRUCTION, arguments)])] with continuation lines joined."""
    logical, current = [], ''
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith('#')):
            continue
        if stripped.startswith('#'):
            continue   # a comment inside a continued instruction
        if stripped.endswith('\\'):
            current += stripped[:-1] + ' '
            continue
        logical.append(current + stripped)
        current = ''
    stages = []
    for instruction in logical:
        keyword, _, arguments = instruction.partition(' ')
        keyword = keyword.upper()
        if keyword == 'FROM':
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == 'AS' else None
            stages.append((name, [('FROM', words[0])]))
        else:
            stages[-1][1].append((keyword, arguments.strip()))
    return stages


def apt_installed(run_arguments):
    """The packages an `apt-get install` in a RUN instruction names."""
    words = shlex.split(run_arguments.replace('&&', ' && '))
    packages = []
    for i, word in enumerate(words):
        if word == 'install' and i > 0 and words[i - 1] == 'apt-get':
            for package in words[i + 1:]:
                if package == '&&':
                    break
                if not package.startswith('-'):
                    packages.append(package)
    return packages


def installed_dependency_closure(packages):
    """`packages` and everything they depend on, per the local dpkg database (one query)."""
    listing = subprocess.run(
        ['dpkg-query', '-W', '-f=${Package}\t${Pre-Depends}, ${Depends}\t${Provides}\n'],
        capture_output=True, text=True, check=True).stdout
    depends, providers = {}, {}
    for line in listing.splitlines():
        package, requirements, provides = (line.split('\t') + ['', ''])[:3]
        names = []
        for clause in requirements.split(','):
            for alternative in clause.split('|'):
                name = alternative.strip().split(' ')[0].split(':')[0]
                if name:
                    names.append(name)
        depends[package] = names
        for provided in provides.split(','):
            name = provided.strip().split(' ')[0]
            if name:
                providers.setdefault(name, []).append(package)
    seen, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        todo.extend(depends.get(package, []))
        todo.extend(providers.get(package, []))   # a virtual package's providers
    return seen


def owning_packages(paths):
    """{path: package} for the paths some installed package owns (one query)."""
    result = subprocess.run(['dpkg-query', '-S'] + paths, capture_output=True, text=True)
    owners = {}
    for line in result.stdout.splitlines():
        package, _, path = line.partition(': ')
        owners[path] = package.split(':')[0].split(',')[0]
    return owners


class DeployFilesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.example = yaml.safe_load(read('deploy/cellgw.example.yaml'))
        cls.compose = yaml.safe_load(read('deploy/compose.yaml'))
        cls.dockerfile = parse_dockerfile(read('deploy/Dockerfile'))
        cls.k8s_files = sorted(os.listdir(runfile('deploy/kubernetes')))
        cls.k8s = ops_support.kubernetes_objects()
        cls.dev_secrets = ops_support.make_dev_secrets('dev-secrets')
        cls.config_map = cls.k8s['ConfigMap']
        cls.k8s_config = yaml.safe_load(cls.config_map['data']['cellgw.yaml'])
        cls.pod = cls.k8s['Deployment']['spec']['template']['spec']
        [cls.container] = cls.pod['containers']
        cls.container_ports = {p['name']: p['containerPort'] for p in cls.container['ports']}

    # -- the image ---------------------------------------------------------------

    def stage(self, name):
        for stage_name, instructions in self.dockerfile:
            if stage_name == name:
                return instructions
        self.fail('deploy/Dockerfile has no stage %r' % name)

    def instructions(self, name, keyword):
        return [arguments for k, arguments in self.stage(name) if k == keyword]

    def test_dockerfile_builds_on_debian_12_and_runs_on_bookworm_slim_as_non_root(self):
        self.assertEqual(self.stage('build')[0], ('FROM', 'debian:bookworm'))
        self.assertEqual(self.dockerfile[-1][0], 'runtime', 'runtime must be the default '
                         '(last) stage')
        self.assertEqual(self.stage('runtime')[0], ('FROM', 'debian:bookworm-slim'))
        [user] = self.instructions('runtime', 'USER')
        uid = user.split(':')[0]
        self.assertTrue(uid.isdigit() and int(uid) != 0, user)
        self.assertEqual(self.instructions('runtime', 'ENTRYPOINT'),
                         ['["/usr/local/bin/docker-entrypoint.sh"]'])
        self.assertIn('deploy/cellgw.example.yaml /etc/cellgw/cellgw.yaml',
                      self.instructions('runtime', 'COPY'))
        self.assertIn('CELLGW_CONFIG=/etc/cellgw/cellgw.yaml',
                      self.instructions('runtime', 'ENV'))
        self.assertIn('deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh',
                      self.instructions('runtime', 'COPY'))

    def test_dockerfile_exposes_the_ports_of_its_default_config(self):
        [expose] = self.instructions('runtime', 'EXPOSE')
        self.assertEqual({int(p) for p in expose.split()},
                         {port_of(self.example['listen']),
                          port_of(self.example['metrics_listen']),
                          port_of(self.example['health_listen'])})

    def test_dockerfile_copies_only_files_that_exist(self):
        for stage_name, instructions in self.dockerfile:
            for keyword, arguments in instructions:
                if keyword != 'COPY' or arguments.startswith('--from'):
                    continue
                sources = arguments.split()[:-1]
                for source in sources:
                    if source != '.':
                        with self.subTest(stage=stage_name, source=source):
                            self.assertTrue(os.path.isfile(runfile(source)))

    def test_runtime_packages_provide_every_library_cellgw_links(self):
        [run] = [a for a in self.instructions('runtime', 'RUN') if 'apt-get install' in a]
        packages = apt_installed(run)
        self.assertIn('libgrpc++1.51', packages)
        self.assertFalse([p for p in packages if p.endswith('-dev')], packages)
        available = installed_dependency_closure(packages) | SLIM_BASE_PACKAGES
        ldd = subprocess.run(['ldd', runfile(ops_support.CELLGW)], capture_output=True,
                             text=True, check=True).stdout
        libraries = re.findall(r'=> (/\S+)', ldd)
        self.assertGreater(len(libraries), 10, ldd)
        # Debian 12 merged /lib into /usr/lib, and dpkg knows each file by one of the names.
        candidates = {library: [library, os.path.realpath(library), '/usr' + library,
                                '/usr' + os.path.realpath(library)]
                      for library in libraries}
        owners = owning_packages(sorted({c for cs in candidates.values() for c in cs}))
        for library in libraries:
            if re.search(r'/lib[atl]san\.so|/libubsan\.so', library):
                continue  # a sanitizer build (tests/sanitizers.sh); the image ships none
            owner = next((owners[c] for c in candidates[library] if c in owners), None)
            with self.subTest(library=library):
                self.assertIsNotNone(owner, 'no Debian package owns %s' % library)
                self.assertIn(owner, available)

    def test_entrypoint_is_an_executable_posix_shell_script(self):
        path = runfile('deploy/docker-entrypoint.sh')
        self.assertTrue(os.access(path, os.X_OK))
        self.assertTrue(read('deploy/docker-entrypoint.sh').startswith('#!/bin/sh\n'))
        result = subprocess.run(['/bin/sh', '-n', path], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)

    # -- compose -----------------------------------------------------------------

    # -- secure by default -----------------------------------------------------------

    def test_shipped_configs_use_tls_and_authenticate_every_caller(self):
        for name, config in (('cellgw.example.yaml', self.example),
                             ('configmap.yaml', self.k8s_config)):
            with self.subTest(config=name):
                security = config['security']
                self.assertIn('cert_file', security['tls'])
                self.assertTrue(security.get('tokens_file') or
                                security['tls'].get('client_ca_file'))
                self.assertNotIn('allow_insecure', config)
                self.assertEqual(config['listen'].rsplit(':', 1)[0], '0.0.0.0')
                for grant in security['policy']:
                    # The keys oslo services trust for authorisation stay the gateway's.
                    self.assertIn('is_admin', grant['context_deny'])
                    self.assertIn('roles', grant['context_deny'])
                    self.assertEqual(grant['context_set']['user_id'], '{identity}')

    def test_the_example_config_without_security_is_refused_naming_allow_insecure(self):
        config = dict(self.example)
        del config['security']
        env = {'CELLGW_CELL_CELL1_TRANSPORT_URL': 'rabbit://u:p@127.0.0.1:5672/'}
        path = write_file(os.path.join(tmpdir('open'), 'cellgw.yaml'), yaml.safe_dump(config))
        result = subprocess.run([runfile(ops_support.CELLGW), '--check-config', path],
                                env=ops_support.base_env(env), capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn('listen: "0.0.0.0:50051" can be reached from other hosts', result.stderr)
        self.assertIn('allow_insecure: true', result.stderr)

    def test_dev_secrets_script_makes_a_certificate_for_localhost_and_a_token(self):
        verify = subprocess.run(['openssl', 'verify', '-CAfile', self.dev_secrets['ca.pem'],
                                 self.dev_secrets['tls.crt']],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(verify.returncode, 0, verify.stderr)
        names = subprocess.run(['openssl', 'x509', '-noout', '-ext', 'subjectAltName',
                                '-in', self.dev_secrets['tls.crt']],
                               capture_output=True, text=True, timeout=60).stdout
        self.assertIn('DNS:localhost', names)
        self.assertIn('IP Address:127.0.0.1', names)
        with open(self.dev_secrets['tokens']) as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith('#')]
        identities = {g['identity'] for g in self.example['security']['policy']}
        self.assertEqual(lines, [['example-client', self.dev_secrets['token']]])
        self.assertIn('example-client', identities)
        self.assertGreaterEqual(len(self.dev_secrets['token']), 40)
        # The generated files are kept out of the repository.
        ignored = read('deploy/compose-secrets/.gitignore').split()
        for generated in ('ca.pem', 'ca.key', 'tls.crt', 'tls.key', 'tokens', 'client-token'):
            self.assertIn(generated, ignored)

    def test_compose_publishes_the_ports_the_image_config_serves(self):
        cellgw = self.compose['services']['cellgw']
        container_ports = {int(str(p).rsplit(':', 1)[1]) for p in cellgw['ports']}
        self.assertEqual(container_ports, {port_of(self.example['listen']),
                                           port_of(self.example['metrics_listen']),
                                           port_of(self.example['health_listen'])})
        for published in cellgw['ports']:   # only to this host
            self.assertTrue(str(published).startswith('127.0.0.1:'), published)
        self.assertEqual(cellgw['build']['target'], 'runtime')
        self.assertEqual(self.compose['services']['example-service']['build']['target'],
                         'example-service')
        self.stage('example-service')

    def test_compose_config_is_valid_with_its_environment_and_secrets(self):
        cellgw = self.compose['services']['cellgw']
        env = {k: str(v) for k, v in cellgw['environment'].items()}
        cells = [c['name'] for c in self.example['cells']]
        self.assertLessEqual(set(env), known_variables(cells))
        # compose mounts each secret at /run/secrets/<name>, the paths the config names;
        # here they are the repository's file or the ones make-dev-secrets.sh writes.
        config_text = read('deploy/cellgw.example.yaml')
        local = {}
        for name in cellgw['secrets']:
            self.assertIn('/run/secrets/%s\n' % name, config_text)
            source = self.compose['secrets'][name]['file']
            generated = self.dev_secrets.get(os.path.basename(source))
            local[name] = generated or runfile(os.path.join('deploy', source))
        self.assertEqual(set(cellgw['secrets']), {'cell1_transport_url', 'cellgw_tls_cert',
                                                  'cellgw_tls_key', 'cellgw_tokens'})
        config = write_file(os.path.join(tmpdir('compose'), 'cellgw.yaml'),
                            ops_support.substitute_secret_paths(config_text, local))
        result = subprocess.run(
            [runfile(ops_support.CELLGW), '--check-config', config],
            env=ops_support.base_env(env), capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('configuration is valid (1 cell)', result.stdout)

    def test_compose_services_share_one_broker_account_and_exchange(self):
        rabbitmq = self.compose['services']['rabbitmq']['environment']
        cellgw = self.compose['services']['cellgw']
        with open(runfile(os.path.join(
                'deploy', self.compose['secrets']['cell1_transport_url']['file']))) as f:
            gateway_url = urllib.parse.urlsplit(f.read().strip())
        command = self.compose['services']['example-service']['command']
        service_url = urllib.parse.urlsplit(command[command.index('--url') + 1])
        for url in (gateway_url, service_url):
            with self.subTest(url=url.geturl()):
                self.assertEqual(url.scheme, 'rabbit')
                self.assertEqual(url.hostname, 'rabbitmq')   # the compose service
                self.assertEqual(url.port, 5672)
                self.assertEqual(url.username, rabbitmq['RABBITMQ_DEFAULT_USER'])
                self.assertEqual(url.password, rabbitmq['RABBITMQ_DEFAULT_PASS'])
        self.assertEqual(command[command.index('--exchange') + 1],
                         self.example['cells'][0]['control_exchange'])
        self.assertIn('rabbitmq', cellgw['depends_on'])

    def test_compose_stop_grace_exceeds_the_shutdown_grace_period(self):
        cellgw = self.compose['services']['cellgw']
        grace = float(cellgw['environment'].get('CELLGW_SHUTDOWN_GRACE_PERIOD',
                                                self.example['shutdown_grace_period']))
        stop = cellgw['stop_grace_period']
        self.assertTrue(stop.endswith('s'), stop)
        self.assertGreater(float(stop[:-1]), grace)

    # -- Kubernetes ----------------------------------------------------------------

    def test_kustomization_lists_every_manifest(self):
        kustomization = yaml.safe_load(read('deploy/kubernetes/kustomization.yaml'))
        self.assertEqual(sorted(kustomization['resources']),
                         [f for f in self.k8s_files if f != 'kustomization.yaml'])
        self.assertEqual(set(self.k8s), {'ConfigMap', 'Secret', 'Deployment', 'Service',
                                         'NetworkPolicy', 'ServiceMonitor'})

    def test_secrets_the_pod_mounts_are_shipped_or_their_creation_is_documented(self):
        kustomization = read('deploy/kubernetes/kustomization.yaml')
        shipped = self.k8s['Secret']['metadata']['name']
        for volume in self.pod['volumes']:
            if 'secret' not in volume:
                continue
            name = volume['secret']['secretName']
            with self.subTest(secret=name):
                if name == shipped:
                    continue
                self.assertRegex(kustomization,
                                 r'kubectl create secret \S+ %s ' % re.escape(name))
                # Key material is never readable by others in the pod.
                self.assertEqual(volume['secret']['defaultMode'] & 0o007, 0)

    def test_container_ports_are_the_configured_listen_ports(self):
        self.assertEqual(self.container_ports,
                         {'grpc': port_of(self.k8s_config['listen']),
                          'metrics': port_of(self.k8s_config['metrics_listen']),
                          'health': port_of(self.k8s_config['health_listen'])})

    def test_probes_are_native_grpc_on_the_health_listener_naming_served_entries(self):
        served = {'', 'cellgw.v1.CellGateway', 'cellgw.liveness'} | {
            'cell/' + c['name'] for c in self.k8s_config['cells']}
        for probe in ('readinessProbe', 'livenessProbe'):
            with self.subTest(probe=probe):
                grpc_probe = self.container[probe]['grpc']
                # The kubelet's gRPC probes speak plaintext: the TLS port would fail them.
                self.assertEqual(grpc_probe['port'], self.container_ports['health'])
                self.assertNotEqual(grpc_probe['port'], self.container_ports['grpc'])
                self.assertIn(grpc_probe.get('service', ''), served)
        self.assertEqual(self.container['readinessProbe']['grpc']['service'],
                         'cellgw.v1.CellGateway')
        self.assertEqual(self.container['livenessProbe']['grpc']['service'], 'cellgw.liveness')

    def test_service_and_service_monitor_reach_the_container_ports(self):
        service = self.k8s['Service']
        service_ports = {}
        for port in service['spec']['ports']:
            target = port['targetPort']
            service_ports[port['name']] = (self.container_ports[target]
                                           if isinstance(target, str) else target)
        # Everything but the health listener, which only the kubelet needs.
        self.assertEqual(service_ports, {'grpc': self.container_ports['grpc'],
                                         'metrics': self.container_ports['metrics']})
        [endpoint] = self.k8s['ServiceMonitor']['spec']['endpoints']
        self.assertEqual(service_ports[endpoint['port']], self.container_ports['metrics'])
        self.assertEqual(endpoint['path'], METRICS_PATH)

    def test_labels_and_selectors_connect_deployment_service_and_monitor(self):
        deployment = self.k8s['Deployment']['spec']
        pod_labels = deployment['template']['metadata']['labels']
        self.assertLessEqual(deployment['selector']['matchLabels'].items(),
                             pod_labels.items())
        service = self.k8s['Service']
        self.assertLessEqual(service['spec']['selector'].items(), pod_labels.items())
        self.assertLessEqual(
            self.k8s['ServiceMonitor']['spec']['selector']['matchLabels'].items(),
            service['metadata']['labels'].items())

    def test_network_policy_admits_only_clients_to_grpc_and_monitoring_to_metrics(self):
        policy = self.k8s['NetworkPolicy']['spec']
        pod_labels = self.k8s['Deployment']['spec']['template']['metadata']['labels']
        self.assertLessEqual(policy['podSelector']['matchLabels'].items(), pod_labels.items())
        self.assertEqual(set(policy['policyTypes']), {'Ingress', 'Egress'})
        admitted = {}
        for rule in policy['ingress']:
            self.assertTrue(rule.get('from'), 'a rule without "from" admits everyone')
            for peer in rule['from']:
                # Every peer is narrowed by labels: no "any pod in any namespace".
                self.assertTrue(peer.get('podSelector', {}).get('matchLabels') or
                                peer.get('namespaceSelector', {}).get('matchLabels'), peer)
            for port in rule['ports']:
                name = port['port']
                self.assertIn(name, self.container_ports)
                admitted.setdefault(name, []).extend(rule['from'])
        self.assertEqual(set(admitted), {'grpc', 'metrics'})   # no pod reaches health
        [client] = admitted['grpc']
        self.assertEqual(client['podSelector']['matchLabels'],
                         {'cellgw.example.org/client': 'true'})
        [monitoring] = admitted['metrics']
        self.assertEqual(monitoring['namespaceSelector']['matchLabels'],
                         {'kubernetes.io/metadata.name': 'monitoring'})
        egress_ports = {(p['port'], p['protocol']) for rule in policy['egress']
                        for p in rule['ports']}
        self.assertEqual(egress_ports, {(53, 'UDP'), (53, 'TCP'), (5672, 'TCP'),
                                        (5671, 'TCP')})

    def test_pod_runs_as_the_images_non_root_user(self):
        [user] = self.instructions('runtime', 'USER')
        self.assertTrue(self.pod['securityContext']['runAsNonRoot'])
        self.assertEqual(self.pod['securityContext']['runAsUser'], int(user.split(':')[0]))
        self.assertFalse(self.container['securityContext']['allowPrivilegeEscalation'])

    def test_termination_grace_exceeds_the_shutdown_grace_period(self):
        self.assertGreater(self.pod['terminationGracePeriodSeconds'],
                           float(self.k8s_config['shutdown_grace_period']))

    def test_kubernetes_config_is_valid_with_the_deployments_environment_and_secrets(self):
        env = {e['name']: e['value'] for e in self.container['env']}
        cells = [c['name'] for c in self.k8s_config['cells']]
        self.assertLessEqual(set(env), known_variables(cells))
        mounts = {m['name']: m for m in self.container['volumeMounts']}
        volumes = {v['name']: v for v in self.pod['volumes']}
        config_volume = [n for n, v in volumes.items()
                         if v.get('configMap', {}).get('name') ==
                         self.config_map['metadata']['name']]
        [config_volume] = config_volume
        config_mount = mounts[config_volume]
        self.assertEqual(env['CELLGW_CONFIG'], config_mount['mountPath'])
        self.assertIn(config_mount['subPath'], self.config_map['data'])
        # The files the config and the variables name are where the Secrets are mounted.
        secret = self.k8s['Secret']
        for name, value in env.items():
            if name.endswith('_FILE'):
                self.assertIn(os.path.basename(value), secret['stringData'], name)
        for cell in cells:   # every cell gets its URL from the Secret
            self.assertIn('CELLGW_CELL_%s_TRANSPORT_URL_FILE' % cell_variable_name(cell),
                          env)
        security = self.k8s_config['security']
        for path in (security['tls']['cert_file'], security['tls']['key_file'],
                     security['tokens_file']):
            directory, key = os.path.split(path)
            [volume] = [volumes[n] for n, m in mounts.items() if m['mountPath'] == directory]
            self.assertIn(key, [item['path'] for item in volume['secret']['items']], path)

        # Lay the pod's files out here and check the config they make.
        config, local_env, _ = ops_support.kubernetes_pod_files(
            tmpdir('kubernetes-pod'), self.dev_secrets)
        result = subprocess.run([runfile(ops_support.CELLGW), '--check-config', config],
                                env=ops_support.base_env(local_env), capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('configuration is valid (%d cells)' % len(cells), result.stdout)


if __name__ == '__main__':
    ops_support.main()
