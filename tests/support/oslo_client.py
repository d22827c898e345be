#!/usr/bin/python3
"""A real oslo.messaging RPC client CLI, for cellgw's tests and demo.

Part of tests/support; the C++ tests run it through OsloProcess::Run
(tests/support/oslo_process.h). Run it with /usr/bin/python3.

    oslo_client.py --url URL --topic TOPIC [--server S] [--exchange E]
                   [--namespace NS] [--version V] [--timeout SECONDS]
                   [--call-monitor-timeout SECONDS] [--count N]
                   (call|cast|fanout) METHOD ARGS_JSON [CONTEXT_JSON]

ARGS_JSON is a JSON object (the method's keyword arguments); CONTEXT_JSON a
JSON object (the request context, default {}). --count sends a cast or
fanout N times over one connection (a flood, for flow-control tests).

stdout is one JSON line:
  call, success:   the result itself, e.g. {"kw": {"x": 1}, ...}     exit 0
  cast / fanout:   {"sent": "cast"} / {"sent": "fanout"}             exit 0
                   (with --count N > 1: {"count": N, "sent": "cast"})
  any failure:     {"exception": CLASS, "module": MODULE, "message": FIRST_LINE}
                   exit 1 (the remote class name without oslo's "_Remote")
Bad command-line input exits 2.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402

import oslo_peer  # noqa: E402


def _json_object(parser, text, what):
    """`text` parsed as a JSON object; a usage error (exit 2) otherwise."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        parser.error('%s is not JSON: %s' % (what, exc))
    if not isinstance(value, dict):
        parser.error('%s must be a JSON object' % what)
    return value


def describe_exception(exc):
    """{"exception", "module", "message"} for a local or remote failure."""
    name, module = type(exc).__name__, type(exc).__module__
    # oslo rebuilds a remote non-builtin exception as a subclass whose name
    # and module carry this suffix; report the class the server raised.
    suffix = '_Remote'
    if name.endswith(suffix):
        name = name[:-len(suffix)]
    if module.endswith(suffix):
        module = module[:-len(suffix)]
    # str(KeyError) is the repr of its argument; the argument is the text.
    text = exc.args[0] if (isinstance(exc, KeyError) and exc.args and
                           isinstance(exc.args[0], str)) else str(exc)
    # A remote failure's text continues with the server's traceback.
    return {'exception': name, 'module': module,
            'message': text.split('\n')[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description='oslo.messaging RPC client')
    parser.add_argument('--url', required=True)
    parser.add_argument('--topic', required=True)
    parser.add_argument('--server')
    parser.add_argument('--exchange', default='openstack',
                        help='control_exchange (default %(default)s)')
    parser.add_argument('--namespace')
    parser.add_argument('--version')
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='call timeout in seconds (default %(default)s)')
    parser.add_argument('--call-monitor-timeout', type=float)
    parser.add_argument('--count', type=int, default=1,
                        help='casts/fanouts to send (default %(default)s)')
    parser.add_argument('kind', choices=['call', 'cast', 'fanout'])
    parser.add_argument('method')
    parser.add_argument('args_json')
    parser.add_argument('context_json', nargs='?', default='{}')
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error('--timeout must be positive')
    if args.count < 1 or (args.count > 1 and args.kind == 'call'):
        parser.error('--count must be positive, and 1 for a call')
    kwargs = _json_object(parser, args.args_json, 'ARGS_JSON')
    ctxt = _json_object(parser, args.context_json, 'CONTEXT_JSON')

    oslo_peer.configure(args.exchange)
    transport = oslo_messaging.get_rpc_transport(
        cfg.CONF, url=args.url, allowed_remote_exmods=['cellgw_test_exc'])
    try:
        target = oslo_messaging.Target(topic=args.topic, server=args.server,
                                       namespace=args.namespace,
                                       version=args.version)
        client = oslo_messaging.get_rpc_client(
            transport, target, timeout=args.timeout,
            call_monitor_timeout=args.call_monitor_timeout)
        if args.kind == 'call':
            result = client.call(ctxt, args.method, **kwargs)
            print(json.dumps(result, sort_keys=True), flush=True)
        else:
            if args.kind == 'fanout':
                client = client.prepare(fanout=True)
            for _ in range(args.count):
                client.cast(ctxt, args.method, **kwargs)
            sent = {'sent': args.kind}
            if args.count > 1:
                sent['count'] = args.count
            print(json.dumps(sent, sort_keys=True), flush=True)
        return 0
    except Exception as exc:   # report any failure, remote or local, as data
        print(json.dumps(describe_exception(exc), sort_keys=True),
              flush=True)
        return 1
    finally:
        transport.cleanup()


if __name__ == '__main__':
    sys.exit(main())
