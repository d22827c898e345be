#!/usr/bin/python3
"""Differential test: bridge::RpcDispatcher against oslo.messaging's own RPCDispatcher.

Both are asked the same few thousand questions (random endpoints with namespaces, versions
and methods; requests with random methods, namespaces and well- or ill-formed versions). For
each, oslo either calls an endpoint's method (which reports its index) or raises; what it
raises is serialised with oslo's own serialize_remote_exception, the function an oslo server
uses for the failure it sends back. The C++ side answers through rpc_dispatcher_probe. Every
answer must agree: the endpoint chosen, or the failure's class, module, message and args.

Runs under /usr/bin/python3 (Debian's, which has python3-oslo.messaging), by Bazel through
run_rpc_dispatcher_oracle_test.sh.
"""
import json
import os
import random
import subprocess
import sys

import oslo_messaging
from oslo_messaging._drivers import common as driver_common
from oslo_messaging.rpc import dispatcher as rpc_dispatcher
from oslo_messaging import serializer as oslo_serializer

CASES = 4000
SEED = 20261204

NAMESPACES = [None, 'admin', 'cells']
ENDPOINT_VERSIONS = ['', '1.0', '1.3', '1.3.2', '2.0', '2.5', '0.9']
METHODS = ['echo', 'resize', 'get_info', '_private']
REQUEST_VERSIONS = [None, '1.0', '1.2', '1.3', '1.3.1', '1.3.3', '1.4', '2.0', '2.6', '3.0',
                    '9.0', '0.9', '1', '2', '', 'x.1', '1.x', '1.3.x', ' 1.2', '+1.0', '1_0.0',
                    '01.2', '1.2.3.4', '-1.0', '1.-0', "1'.0", '1\t.0', '1__0.0']
# 'target' is every endpoint's Target attribute in oslo, never a method (Create refuses it).
REQUEST_METHODS = METHODS + ['no_such', '']


def probe_path():
    srcdir = os.environ.get('TEST_SRCDIR')
    if srcdir:
        return os.path.join(srcdir, os.environ.get('TEST_WORKSPACE', 'cellgw'),
                            'tests', 'bridge', 'rpc_dispatcher_probe')
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, '..', '..', 'bazel-bin', 'tests', 'bridge', 'rpc_dispatcher_probe')


def random_case(rng):
    endpoints = []
    for _ in range(rng.randint(1, 4)):
        endpoints.append({
            'namespace': rng.choice(NAMESPACES),
            'version': rng.choice(ENDPOINT_VERSIONS),
            'methods': rng.sample(METHODS, rng.randint(0, 3)),
        })
    return {
        'endpoints': endpoints,
        'method': rng.choice(REQUEST_METHODS),
        'namespace': rng.choice(NAMESPACES),
        'version': rng.choice(REQUEST_VERSIONS),
    }


def make_endpoint(index, spec):
    attrs = {'target': oslo_messaging.Target(namespace=spec['namespace'],
                                             version=spec['version'] or None)}
    for method in spec['methods']:
        attrs[method] = lambda self, ctxt, **kwargs: ('deliver', index)
    return type('Endpoint%d' % index, (object,), attrs)()


class Incoming(object):
    def __init__(self, message):
        self.message = message
        self.ctxt = {}
        self.client_timeout = None


def oslo_answer(case):
    endpoints = [make_endpoint(i, spec) for i, spec in enumerate(case['endpoints'])]
    dispatcher = rpc_dispatcher.RPCDispatcher(endpoints, oslo_serializer.NoOpSerializer())
    message = {'method': case['method'], 'args': {}}
    if case['namespace'] is not None:
        message['namespace'] = case['namespace']
    if case['version'] is not None:
        message['version'] = case['version']
    try:
        result = dispatcher.dispatch(Incoming(message))
    except Exception:
        failure = json.loads(driver_common.serialize_remote_exception(sys.exc_info()))
        return {'class': failure['class'], 'module': failure['module'],
                'message': failure['message'], 'args': failure['args']}
    if isinstance(result, tuple) and result[0] == 'deliver':
        return {'endpoint': result[1]}
    return {'unexpected': repr(result)}


def main():
    rng = random.Random(SEED)
    cases = [random_case(rng) for _ in range(CASES)]
    proc = subprocess.run([probe_path()], input=''.join(json.dumps(c) + '\n' for c in cases),
                          capture_output=True, text=True, check=True)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    if len(answers) != len(cases):
        print('probe answered %d of %d cases' % (len(answers), len(cases)))
        return 1
    mismatches = 0
    outcomes = {}
    for case, ours in zip(cases, answers):
        theirs = oslo_answer(case)
        key = theirs.get('class', 'deliver')
        outcomes[key] = outcomes.get(key, 0) + 1
        if ours != theirs:
            mismatches += 1
            if mismatches <= 10:
                print('MISMATCH for %s\n  oslo:   %s\n  cellgw: %s' % (
                    json.dumps(case), json.dumps(theirs), json.dumps(ours)))
    print('%d cases, %d mismatches; oslo outcomes: %s' % (
        len(cases), mismatches, json.dumps(outcomes, sort_keys=True)))
    # The generator must reach every kind of answer, or the comparison proves little.
    for needed in ('deliver', 'NoSuchMethod', 'UnsupportedVersion', 'ValueError', 'IndexError'):
        if outcomes.get(needed, 0) == 0:
            print('no case produced %s' % needed)
            return 1
    return 0 if mismatches == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
