#!/usr/bin/python3
"""An example oslo.messaging RPC service, shaped like nova-compute, for cellgw's demo.

This is an ordinary Python oslo.messaging server: it knows nothing about cellgw. The demo
(deploy/demo/demo.py) starts three of them (compute-1, compute-2, compute-3) and then
reaches them through the gateway. Run it with /usr/bin/python3 (Debian's
python3-oslo.messaging):

    example_service.py --url rabbit://guest:guest@127.0.0.1:5672/cell1 --server compute-1
                       [--topic compute] [--exchange nova] [--api-version 6.2]

Endpoints (topic "compute", API version 6.2, like nova's ComputeManager):
  get_host_info()                   call: a dict with a 64-bit counter and unicode text
  reserve_cores(cores)              call: raises demo_exceptions.CoreQuotaExceeded (with
                                    kwargs) when fewer cores are free
  resize_instance(instance, flavor) cast target: prints what it received
  refresh_cache()                   fanout target: every compute service prints it

stdout gets one line per event, "<server>: <what happened>", flushed at once, so a person
(or the demo) can follow what arrived: "<server>: ready ..." once listening, then
"<server>: <method>(<arguments>) ..." for every RPC, and "<server>: stopped" after
SIGTERM or SIGINT (exit code 0).
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402

import demo_exceptions  # noqa: E402

_print_lock = threading.Lock()


def say(server, text):
    """Prints one event line; safe from the RPC executor's threads."""
    with _print_lock:
        sys.stdout.write('%s: %s\n' % (server, text))
        sys.stdout.flush()


def show(value):
    """Compact JSON for a printed argument, unicode kept readable."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)


def request_tag(ctxt):
    """The caller's request id from the RPC context, as printed after each event."""
    request_id = ctxt.get('request_id') if isinstance(ctxt, dict) else None
    return ' [request_id=%s]' % request_id if request_id else ''


class ComputeManager(object):
    """The RPC endpoint: what nova-compute's manager is to nova."""

    def __init__(self, host, api_version, total_cores):
        self.host = host
        self.target = oslo_messaging.Target(version=api_version)
        self._total_cores = total_cores
        self._reserved_cores = 0
        self._lock = threading.Lock()

    def get_host_info(self, ctxt):
        say(self.host, 'get_host_info()%s' % request_tag(ctxt))
        return {
            'host': self.host,
            'hypervisor_type': 'QEMU',
            'vcpus': self._total_cores,
            # A wrapped 64-bit traffic counter: 2**64-1 does not fit in a double, so it
            # only survives a JSON round trip when nothing converts numbers on the way.
            'net_rx_bytes': 2 ** 64 - 1,
            'site': 'Zürich DC-2, rack \u201cB7\u201d \u2603',
            'operator': '東京 ops',
            'numa_nodes': [{'id': 0, 'cpus': [0, 1, 2, 3]},
                           {'id': 1, 'cpus': [4, 5, 6, 7]}],
        }

    def reserve_cores(self, ctxt, cores):
        say(self.host, 'reserve_cores(cores=%s)%s' % (show(cores), request_tag(ctxt)))
        with self._lock:
            free = self._total_cores - self._reserved_cores
            if not isinstance(cores, int) or cores > free:
                raise demo_exceptions.CoreQuotaExceeded(
                    requested=cores, available=free, total=self._total_cores,
                    host=self.host)
            self._reserved_cores += cores
            return {'host': self.host, 'reserved': cores, 'free': free - cores}

    def resize_instance(self, ctxt, instance, flavor):
        say(self.host, 'resize_instance(instance=%s, flavor=%s)%s' % (
            show(instance), show(flavor), request_tag(ctxt)))

    def refresh_cache(self, ctxt):
        say(self.host, 'refresh_cache()%s' % request_tag(ctxt))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Example nova-compute-like oslo.messaging RPC service.')
    parser.add_argument('--url', required=True, help='oslo.messaging transport URL')
    parser.add_argument('--server', required=True, help='server (host) name')
    parser.add_argument('--topic', default='compute')
    parser.add_argument('--exchange', default='nova', help='control_exchange')
    parser.add_argument('--api-version', default='6.2',
                        help='version of the endpoint (default %(default)s)')
    parser.add_argument('--cores', type=int, default=16,
                        help='cores this host has (default %(default)s)')
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    # Blocked before oslo starts any thread, so every thread inherits the mask and the
    # main thread alone takes the signal in sigwait() and shuts down in order.
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)

    # Must precede the transport: its default exchange is read from here.
    oslo_messaging.set_transport_defaults(control_exchange=args.exchange)
    cfg.CONF([], project='cellgw-demo')
    # oslo.messaging 14 keeps a metrics thread alive 10 s after last use; exit at once.
    cfg.CONF.set_override('metrics_thread_stop_timeout', 0,
                          group='oslo_messaging_metrics')
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=args.url)
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    server = oslo_messaging.get_rpc_server(
        transport, target, [ComputeManager(args.server, args.api_version, args.cores)],
        executor='threading')
    server.start()   # queues are declared and bound when this returns
    say(args.server, "ready: listening on topic '%s' (exchange '%s', API version %s)" % (
        args.topic, args.exchange, args.api_version))

    signal.sigwait(signals)
    server.stop()
    server.wait()
    transport.cleanup()
    say(args.server, 'stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
