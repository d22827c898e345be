"""What every oslo.messaging test peer of tests/support does the same way.

Imported by oslo_server.py, oslo_client.py, oslo_notifier.py and oslo_listener.py (all run
with /usr/bin/python3, which has Debian's python3-oslo.messaging).
"""

import json
import signal
import sys
import threading

from oslo_config import cfg
import oslo_messaging
import oslo_messaging.opts

_out_lock = threading.Lock()


def emit(record):
    """Writes one JSON line (sorted keys) to stdout, flushed; safe from any thread."""
    line = json.dumps(record, sort_keys=True, default=repr)
    with _out_lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def configure(exchange, durable=False):
    """Sets up cfg.CONF before any transport exists (its exchange is read then).

    exchange: the control_exchange. durable: [oslo_messaging_rabbit]
    amqp_durable_queues = True, as a deployment with durable queues has.
    """
    oslo_messaging.set_transport_defaults(control_exchange=exchange)
    cfg.CONF([], project='cellgw-test')
    # oslo.messaging 14.0 starts a non-daemon metrics thread per client
    # that lingers 10 s after its last use, delaying every exit.
    cfg.CONF.set_override('metrics_thread_stop_timeout', 0,
                          group='oslo_messaging_metrics')
    if durable:
        # The driver registers its options only when the transport is created,
        # and reads them right then: register them first so the override holds.
        for group, opts in oslo_messaging.opts.list_opts():
            if group == 'oslo_messaging_rabbit':
                cfg.CONF.register_opts(opts, group=group)
        cfg.CONF.set_override('amqp_durable_queues', True,
                              group='oslo_messaging_rabbit')


def block_stop_signals():
    """Blocks SIGTERM and SIGINT and returns them, for signal.sigwait().

    Call it before any thread exists, so every thread inherits the mask and
    only the main thread's sigwait() sees them: shutdown runs in order there.
    """
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    return signals
