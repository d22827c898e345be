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
  resize_instance(instance, flavor) cast target: prints what it received, then sends the
                                    notification compute.instance.resize.end (INFO, topic
                                    "notifications", publisher "compute.<server>") with a
                                    real oslo.messaging Notifier, as nova-compute does
  refresh_cache()                   fanout target: every compute service prints it

With --listen-notifications POOL it also runs a real NotificationListener on topic
"notifications" in that pool and prints "<server>: notification <event_type> from
<publisher_id> <payload JSON>" for each one it receives.

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

    def __init__(self, host, api_version, total_cores, notifier):
        self.host = host
        self._notifier = notifier
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
        self._notifier.info(ctxt, 'compute.instance.resize.end',
                            {'instance': instance, 'flavor': flavor, 'host': self.host})
        say(self.host, 'notified compute.instance.resize.end%s' % request_tag(ctxt))

    def refresh_cache(self, ctxt):
        say(self.host, 'refresh_cache()%s' % request_tag(ctxt))


class NotificationPrinter(object):
    """A NotificationListener endpoint for every priority: prints what arrives."""

    def __init__(self, host):
        self.host = host

    def _print(self, ctxt, publisher_id, event_type, payload, metadata):
        say(self.host, 'notification %s from %s %s%s' % (
            event_type, publisher_id, show(payload), request_tag(ctxt)))
        return oslo_messaging.NotificationResult.HANDLED

    audit = debug = info = warn = error = critical = sample = _print


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
    parser.add_argument('--listen-notifications', metavar='POOL',
                        help='also listen for notifications in this pool')
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
    notification_transport = oslo_messaging.get_notification_transport(cfg.CONF, url=args.url)
    notifier = oslo_messaging.Notifier(notification_transport,
                                       publisher_id='compute.%s' % args.server,
                                       driver='messagingv2', topics=['notifications'])
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    server = oslo_messaging.get_rpc_server(
        transport, target,
        [ComputeManager(args.server, args.api_version, args.cores, notifier)],
        executor='threading')
    server.start()   # queues are declared and bound when this returns
    listener = None
    if args.listen_notifications:
        listener = oslo_messaging.get_notification_listener(
            notification_transport, [oslo_messaging.Target(topic='notifications')],
            [NotificationPrinter(args.server)], executor='threading',
            pool=args.listen_notifications)
        listener.start()
    say(args.server, "ready: listening on topic '%s' (exchange '%s', API version %s)" % (
        args.topic, args.exchange, args.api_version))

    signal.sigwait(signals)
    if listener is not None:
        listener.stop()
        listener.wait()
    server.stop()
    server.wait()
    transport.cleanup()
    notification_transport.cleanup()
    say(args.server, 'stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
