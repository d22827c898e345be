#!/usr/bin/python3
"""A private RabbitMQ node for cellgw's integration tests and demo.

Part of tests/support. Python tests import PrivateRabbitMQ; the demo script and
shell users drive the same code through the CLI at the bottom of this file. The
C++ tests use tests/support/rabbitmq_node.h, which follows the same recipe.

Each node is fully private, so that several can run at once on one machine
(Bazel runs test binaries in parallel and a test may start two brokers):
  * its own epmd on its own loopback port. We bind the listening socket
    ourselves and hand it to `epmd -systemd` (socket activation), so epmd is
    ready before the broker starts, the port cannot be taken in between, and
    the epmd process is our direct child with a PID we own. Every Erlang
    process of the node (server, CLI) gets ERL_EPMD_PORT for it and
    `-start_epmd false` so nothing ever spawns a stray `epmd -daemon`;
  * its own node name, Erlang cookie (a private HOME), AMQP and distribution
    ports (free loopback ports), data, log and config files under `workdir`.

Everything is stopped by PID: `rabbitmqctl stop`, then waiting for the server
process (a signal through a pidfd, never a fixed sleep), SIGKILL of its process
group as a fallback, then the node's epmd. Unless guard=False (the CLI's
detached mode), a small guardian process SIGKILLs the server's group and epmd
when the owning process dies without stopping the node.

CLI (any Python 3.9+; /usr/bin/python3 like the oslo scripts beside it):
  rabbitmq_node.py start --dir DIR     start a detached node, write DIR/node.json,
                                       print it as one JSON line, exit 0
  rabbitmq_node.py stop --dir DIR      stop the node described by DIR/node.json
  rabbitmq_node.py ctl --dir DIR -- list_queues name
  rabbitmq_node.py add-vhost --dir DIR NAME
  rabbitmq_node.py url --dir DIR [VHOST]
"""

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import urllib.parse

RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'
EPMD = '/usr/bin/epmd'

# A cold start takes ~6 s on the project's 2-core machines; leave room for a
# loaded machine running two test binaries.
STARTUP_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
CTL_TIMEOUT_S = 120
STATE_FILE = 'node.json'


class NodeError(RuntimeError):
    """A node could not be started, stopped or controlled."""


def free_port():
    """A loopback TCP port that was free a moment ago (bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _start_time(pid):
    """The kernel's start time of `pid` (clock ticks since boot), or None.

    Stored next to each PID so that a stale node.json never makes us signal an
    unrelated process that reused the PID.
    """
    fields = _stat_fields(pid)
    # Field 22 of the stat line; the command name (field 2) may contain
    # spaces, hence the parsing in _stat_fields.
    return None if fields is None else fields[19]


def _stat_fields(pid):
    """Fields 3.. of /proc/PID/stat (state first), or None when gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(')') + 2:].split()


def _same_process(pid, start_time):
    """True while `pid` still names the process we started (even a zombie)."""
    if pid is None:
        return False
    fields = _stat_fields(pid)
    return fields is not None and (start_time is None or
                                   fields[19] == start_time)


def _is_running(pid, start_time):
    """True while `pid` is the process we started and has not exited."""
    if not _same_process(pid, start_time):
        return False
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ('Z', 'X')


def _wait_exit(pid, start_time, timeout, child=None):
    """Waits until `pid` exits; returns False when `timeout` passed first.

    For our own children the Popen object reaps them. For a node started by
    another process (the CLI's detached mode) a pidfd becomes readable when the
    process exits, so this never polls.
    """
    if child is not None:
        try:
            child.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    if not _is_running(pid, start_time):
        return True
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not _is_running(pid, start_time):
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(fd)


def _killpg(pgid, start_time, own_child=False):
    """SIGKILLs process group `pgid` (a session we started).

    An own child's group is ours even after its leader was reaped (the kernel
    never hands out a PID that still names a group); otherwise the leader
    must still be the process we started, a zombie included.
    """
    if pgid is None or not (own_child or _same_process(pgid, start_time)):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path, limit=2000):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError:
        return ''
    return data[-limit:].decode('utf-8', 'replace')


class PrivateRabbitMQ(object):
    """One private RabbitMQ node whose files all live under `workdir`.

    Not thread-safe: one owner drives start/stop. Attributes after start():
    amqp_port, dist_port, epmd_port, node (e.g. 'cellgw_41234@localhost'),
    pid (the server's process-group leader), epmd_pid.
    """

    def __init__(self, workdir, guard=True):
        self.workdir = os.path.abspath(workdir)
        self.guard = guard
        self.amqp_port = None
        self.dist_port = None
        self.epmd_port = None
        self.node = None
        self.cookie = None
        self.pid = None
        self.pid_start = None
        self.epmd_pid = None
        self.epmd_start = None
        self._server = None   # Popen, when this object started the server
        self._epmd = None     # Popen, when this object started epmd
        self._guardian = None
        self._guardian_pipe = None   # write end; the guardian acts at its EOF

    # -- paths and environment ---------------------------------------------

    def _path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def _env(self):
        env = dict(os.environ)
        # A pyenv/virtualenv of the caller must not leak into Erlang's tools.
        for key in ('ERL_FLAGS', 'ERL_ZFLAGS', 'ERL_LIBS', 'RABBITMQ_HOME'):
            env.pop(key, None)
        env.update({
            'HOME': self._path('home'),   # private .erlang.cookie
            'LC_ALL': 'C.UTF-8',          # the Elixir CLI wants UTF-8
            'ERL_EPMD_PORT': str(self.epmd_port),
            'ERL_EPMD_ADDRESS': '127.0.0.1',
            # Applies to every erl the server or the CLI launches (including
            # rabbit's own "epmd-starter"), so none of them forks an
            # `epmd -daemon` that would outlive the node.
            'ERL_AFLAGS': '-start_epmd false',
            'ERL_CRASH_DUMP': self._path('erl_crash.dump'),
            'RABBITMQ_NODENAME': self.node,
            'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
            'RABBITMQ_NODE_PORT': str(self.amqp_port),
            'RABBITMQ_DIST_PORT': str(self.dist_port),
            # CLI tools otherwise all share ports 35672-35682.
            'RABBITMQ_CTL_DIST_PORT_MIN': '0',
            'RABBITMQ_CTL_DIST_PORT_MAX': '0',
            'RABBITMQ_CTL_ERL_ARGS':
                '-kernel inet_dist_use_interface {127,0,0,1}',
            'RABBITMQ_MNESIA_BASE': self._path('mnesia'),
            'RABBITMQ_LOG_BASE': self._path('log'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': self._path('enabled_plugins'),
            'RABBITMQ_CONFIG_FILE': self._path('rabbitmq'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': self._path('advanced.config'),
            'RABBITMQ_CONF_ENV_FILE': self._path('rabbitmq-env.conf'),
            'RABBITMQ_PID_FILE': self._path('beam.pid'),
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                '-kernel inet_dist_use_interface {127,0,0,1}',
        })
        return env

    def _write_files(self):
        os.makedirs(self._path('home'), exist_ok=True)
        cookie_path = self._path('home', '.erlang.cookie')
        if not os.path.exists(cookie_path):
            # Written before any Erlang process runs: otherwise the server and
            # the first rabbitmqctl race to create two different cookies.
            fd = os.open(cookie_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o400)
            with os.fdopen(fd, 'w') as f:
                f.write(self.cookie)
        with open(self._path('enabled_plugins'), 'w') as f:
            f.write('[].\n')
        with open(self._path('rabbitmq.conf'), 'w') as f:
            f.write('listeners.tcp.default = 127.0.0.1:%d\n'
                    'loopback_users = none\n' % self.amqp_port)
        open(self._path('rabbitmq-env.conf'), 'w').close()

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        """Starts the node and returns once RabbitMQ has booted.

        Raises NodeError (with the tail of the server's output) when it does
        not boot; whatever was started is stopped again first.
        """
        if self.pid is not None:
            raise NodeError('node already started: %s' % self.node)
        os.makedirs(self.workdir, exist_ok=True)
        if self.amqp_port is None:
            self.amqp_port = free_port()
            self.dist_port = free_port()
            while self.dist_port == self.amqp_port:
                self.dist_port = free_port()
            self.node = 'cellgw_%d@localhost' % self.amqp_port
            self.cookie = os.urandom(16).hex().upper()
        self._write_files()
        try:
            self._start_epmd()
            self._start_server()
        except BaseException:
            self._cleanup_processes()
            raise
        return self

    def _start_epmd(self):
        if _is_running(self.epmd_pid, self.epmd_start):
            return   # restart() after kill_hard(): epmd survived
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(('127.0.0.1', self.epmd_port or 0))
            listener.listen(128)
            self.epmd_port = listener.getsockname()[1]
            fd = listener.fileno()
            with open(self._path('epmd.log'), 'ab') as log:
                # sd_listen_fds() wants the socket on fd 3 and LISTEN_PID ==
                # epmd's own PID; the shell execs epmd, so $$ is that PID.
                # -port too: epmd reports it in NAMES replies, and Erlang
                # rejects an epmd whose reported port differs from its own.
                # bash, not sh: dash takes single-digit fds only, and a test
                # process with many files open gets a listener fd of 10 or
                # more ("Bad fd number": no epmd, and the node fails with
                # "nodistribution").
                self._epmd = subprocess.Popen(
                    ['/bin/bash', '-c',
                     'exec 3<&%d; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" '
                     '-systemd -port %d' % (fd, self.epmd_port), EPMD],
                    pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=log, start_new_session=True)
        finally:
            listener.close()
        self.epmd_pid = self._epmd.pid
        self.epmd_start = _start_time(self.epmd_pid)

    def _start_server(self):
        try:
            os.unlink(self._path('beam.pid'))   # stale after kill_hard()
        except FileNotFoundError:
            pass
        env = self._env()
        with open(self._path('server.out'), 'ab') as out:
            self._server = subprocess.Popen(
                [RABBITMQ_SERVER], env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid = self._server.pid
        self.pid_start = _start_time(self.pid)
        if self.guard:
            # Guarded from the start: an owner killed while the broker boots
            # must not leak it.
            self._start_guardian()
        # `rabbitmqctl wait PIDFILE` blocks until the server wrote its PID
        # file and the rabbit application has started. Watch the server too,
        # so a server that dies early fails fast instead of at the timeout.
        waiter = subprocess.Popen(
            self._ctl_argv('wait', self._path('beam.pid'), '--timeout',
                           str(STARTUP_TIMEOUT_S)),
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        server_fd = os.pidfd_open(self.pid)
        waiter_fd = os.pidfd_open(waiter.pid)
        try:
            poller = select.poll()
            poller.register(server_fd, select.POLLIN)
            poller.register(waiter_fd, select.POLLIN)
            ready = poller.poll((STARTUP_TIMEOUT_S + 10) * 1000)
        finally:
            os.close(server_fd)
            os.close(waiter_fd)
        if waiter.poll() is None:
            waiter.kill()
        wait_output = waiter.communicate()[0].decode('utf-8', 'replace')
        if not ready or waiter.returncode != 0:
            raise NodeError(
                'RabbitMQ node %s did not start (server %s; rabbitmqctl wait '
                'exit %s: %s)\n--- tail of %s ---\n%s' % (
                    self.node,
                    'exited with %s' % self._server.poll()
                    if self._server.poll() is not None else 'still running',
                    waiter.returncode, wait_output.strip()[-600:],
                    self._path('server.out'),
                    _tail(self._path('server.out'))))

    def _start_guardian(self):
        read_end, write_end = os.pipe()   # not inherited by other children
        try:
            # `read` returns at EOF: when every copy of the write end is
            # closed, i.e. when this process is gone. Its own session keeps it
            # out of a signal aimed at the owner's process group.
            self._guardian = subprocess.Popen(
                ['/bin/bash', '-c', 'read _; kill -9 -$0 $1 2>/dev/null',
                 str(self.pid), str(self.epmd_pid)],
                stdin=read_end, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._guardian_pipe = write_end

    def _stop_guardian(self):
        # Killed before its pipe closes, so it never acts on PIDs that we are
        # about to release.
        if self._guardian is not None:
            self._guardian.kill()
            self._guardian.wait()
            self._guardian = None
        if self._guardian_pipe is not None:
            os.close(self._guardian_pipe)
            self._guardian_pipe = None

    def stop(self):
        """Stops the server and its epmd; every process is gone on return.

        Safe to call more than once. Raises NodeError only when a process
        survived SIGKILL (which would mean it is not ours to kill).
        """
        self._stop_guardian()
        if _is_running(self.pid, self.pid_start):
            try:
                self.ctl('stop', timeout=STOP_TIMEOUT_S)
            except (NodeError, subprocess.TimeoutExpired):
                pass   # the SIGKILL fallback below handles a wedged node
            if not _wait_exit(self.pid, self.pid_start, STOP_TIMEOUT_S,
                              self._server):
                _killpg(self.pid, self.pid_start, self._server is not None)
        self._cleanup_processes()

    def _cleanup_processes(self):
        """SIGKILLs and reaps whatever of the node is still running."""
        self._stop_guardian()
        survivors = []
        if self.pid is not None:
            # The group also holds beam.smp's helpers (erl_child_setup, ...).
            _killpg(self.pid, self.pid_start, self._server is not None)
            if not _wait_exit(self.pid, self.pid_start, 10, self._server):
                survivors.append(self.pid)
        if self.epmd_pid is not None:
            if _is_running(self.epmd_pid, self.epmd_start):
                os.kill(self.epmd_pid, signal.SIGTERM)
                if not _wait_exit(self.epmd_pid, self.epmd_start, 10,
                                  self._epmd):
                    _killpg(self.epmd_pid, self.epmd_start,
                            self._epmd is not None)
                    if not _wait_exit(self.epmd_pid, self.epmd_start, 10,
                                      self._epmd):
                        survivors.append(self.epmd_pid)
            elif self._epmd is not None:
                self._epmd.wait()
        self.pid = self.pid_start = self._server = None
        self.epmd_pid = self.epmd_start = self._epmd = None
        if survivors:
            raise NodeError('processes survived SIGKILL: %r' % survivors)

    def kill_hard(self):
        """SIGKILLs the server's process group (a crashed broker); epmd stays.

        Use restart() to bring the node back on the same ports and data.
        """
        if self.pid is None:
            raise NodeError('node not started')
        self._stop_guardian()
        _killpg(self.pid, self.pid_start, self._server is not None)
        _wait_exit(self.pid, self.pid_start, STOP_TIMEOUT_S, self._server)
        self.pid = self.pid_start = self._server = None

    def restart(self):
        """Starts the node again with the same name, ports and data dir.

        Works after stop() and after kill_hard(). Raises NodeError like
        start(); a port taken by someone else in between makes it fail.
        """
        if _is_running(self.pid, self.pid_start):
            raise NodeError('node still running: %s' % self.node)
        self.pid = self.pid_start = self._server = None
        return self.start()

    # -- control ------------------------------------------------------------

    def _ctl_argv(self, *args):
        return [RABBITMQCTL, '-q', '-n', self.node] + [str(a) for a in args]

    def ctl(self, *args, timeout=CTL_TIMEOUT_S):
        """Runs rabbitmqctl against this node; returns its stdout.

        Raises NodeError with the command's output when it exits non-zero.
        """
        if self.node is None:
            raise NodeError('node not started')
        r = subprocess.run(self._ctl_argv(*args), env=self._env(),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        out = r.stdout.decode('utf-8', 'replace')
        if r.returncode != 0:
            raise NodeError('rabbitmqctl %s exited %d: %s' % (
                ' '.join(str(a) for a in args), r.returncode,
                (r.stderr.decode('utf-8', 'replace') + out).strip()[-2000:]))
        return out

    def add_vhost(self, name):
        """Creates vhost `name` and gives guest full permissions on it."""
        self.ctl('add_vhost', name)
        self.ctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')

    def url(self, vhost='/'):
        """oslo.messaging transport URL for `vhost` on this node.

        The default vhost is written as an empty path (oslo's and kombu's
        usual spelling); any other is percent-encoded, '/' included.
        """
        path = '' if vhost == '/' else urllib.parse.quote(vhost, safe='')
        return 'rabbit://guest:guest@127.0.0.1:%d/%s' % (self.amqp_port,
                                                         path)

    # -- state file (CLI) -----------------------------------------------------

    def state(self):
        return {
            'node': self.node, 'pid': self.pid, 'pid_start': self.pid_start,
            'amqp_port': self.amqp_port, 'dist_port': self.dist_port,
            'epmd_port': self.epmd_port, 'epmd_pid': self.epmd_pid,
            'epmd_start': self.epmd_start, 'cookie': self.cookie,
            'workdir': self.workdir, 'url': self.url(),
        }

    def save_state(self):
        path = self._path(STATE_FILE)
        with open(path + '.tmp', 'w') as f:
            json.dump(self.state(), f, sort_keys=True)
            f.write('\n')
        os.replace(path + '.tmp', path)

    @classmethod
    def load(cls, workdir):
        node = cls(workdir)
        try:
            with open(node._path(STATE_FILE)) as f:
                state = json.load(f)
        except (OSError, ValueError) as exc:
            raise NodeError('no node state in %s: %s' % (workdir, exc))
        for key in ('node', 'pid', 'pid_start', 'amqp_port', 'dist_port',
                    'epmd_port', 'epmd_pid', 'epmd_start', 'cookie'):
            setattr(node, key, state.get(key))
        return node


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    for name in ('start', 'stop', 'ctl', 'add-vhost', 'url'):
        p = sub.add_parser(name)
        p.add_argument('--dir', required=True, help='node work directory')
        if name == 'ctl':
            p.add_argument('args', nargs=argparse.REMAINDER)
        elif name == 'add-vhost':
            p.add_argument('name')
        elif name == 'url':
            p.add_argument('vhost', nargs='?', default='/')
    args = parser.parse_args(argv)
    try:
        if args.command == 'start':
            node = PrivateRabbitMQ(args.dir, guard=False)
            node.start()
            node.save_state()
            print(json.dumps(node.state(), sort_keys=True), flush=True)
            # Detached: the server and epmd run in their own sessions and
            # outlive this process; `stop --dir` finds them by node.json.
            node._server = node._epmd = None
            return 0
        node = PrivateRabbitMQ.load(args.dir)
        if args.command == 'stop':
            node.stop()
            node.save_state()
        elif args.command == 'ctl':
            ctl_args = args.args[1:] if args.args[:1] == ['--'] else args.args
            sys.stdout.write(node.ctl(*ctl_args))
        elif args.command == 'add-vhost':
            node.add_vhost(args.name)
        elif args.command == 'url':
            print(node.url(args.vhost))
        return 0
    except (NodeError, subprocess.TimeoutExpired) as exc:
        print('rabbitmq_node.py %s: %s' % (args.command, exc),
              file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
