"""Child processes of the Python tests: started so they die with the test, stopped by PID,
and the event lines of tests/support/oslo_server.py read as they come."""
import ctypes
import json
import queue
import signal
import subprocess
import threading
import time

STOP_TIMEOUT_S = 30
EVENT_TIMEOUT_S = 30

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """For Popen's preexec_fn: should the test process be killed outright (Bazel's timeout),
    the kernel sends the child SIGTERM instead of leaving it running."""
    _libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


def stop(proc, timeout=STOP_TIMEOUT_S):
    """SIGTERM, then SIGKILL after `timeout`; reaped on return. None is ignored."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OsloServerEvents(object):
    """The JSON event lines of oslo_server.py, read by a thread into a queue."""

    def __init__(self, stream):
        self._queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for raw in stream:
            try:
                self._queue.put(json.loads(raw))
            except ValueError:
                pass   # not an event line
        self._queue.put(None)   # EOF: the server exited

    def wait_for(self, predicate, timeout=EVENT_TIMEOUT_S):
        """The first event satisfying predicate (earlier ones are consumed); AssertionError
        when the server exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise AssertionError('no matching oslo server event within %d s' % timeout)
            if event is None:
                raise AssertionError('the oslo server exited')
            if predicate(event):
                return event
