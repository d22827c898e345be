#!/usr/bin/python3 -B
"""deploy/install-deps.sh, run for real with stub dpkg-query, id and apt-get first on PATH
(issue 10): after a successful install it exits 0 whether or not a policy-rc.d existed; it
puts its own policy-rc.d (exit 101: start no services) in place for apt-get and removes it
afterwards, also when apt-get fails; a policy-rc.d that was already there is left exactly as
it was (contents, mode, mtime) and is what apt-get sees. The policy file is a path under
$TEST_TMPDIR (CELLGW_POLICY_RC_D), never the machine's /usr/sbin/policy-rc.d, which the test
checks is untouched."""

import os
import stat
import subprocess
import tempfile
import unittest

from ops_support import runfile, write_file

REAL_POLICY = '/usr/sbin/policy-rc.d'

# The stubs write what they were asked, and what apt-get saw of the policy file, to $STUB_LOG.
DPKG_QUERY = """#!/bin/sh
# Every package installed ($STUB_INSTALLED=1) or none.
if [ "$STUB_INSTALLED" = 1 ]; then printf 'install ok installed'; exit 0; fi
echo "dpkg-query: no packages found matching $3" >&2
exit 1
"""
ID = """#!/bin/sh
if [ "$1" = -u ]; then echo "$STUB_UID"; fi
"""
APT_GET = """#!/bin/sh
echo "apt-get $*" >>"$STUB_LOG"
if [ "$1" = install ]; then
  if [ -e "$CELLGW_POLICY_RC_D" ]; then
    "$CELLGW_POLICY_RC_D" rabbitmq-server start
    echo "policy exit $? contents $(base64 -w0 "$CELLGW_POLICY_RC_D")" >>"$STUB_LOG"
  else
    echo "policy missing" >>"$STUB_LOG"
  fi
  exit "${STUB_APT_EXIT:-0}"  # how the install ends
fi
"""


def real_policy_state():
    try:
        info = os.lstat(REAL_POLICY)
    except FileNotFoundError:
        return None
    with open(REAL_POLICY, 'rb') as f:
        return f.read(), info.st_mode, info.st_mtime_ns


class InstallDepsTest(unittest.TestCase):

    def setUp(self):
        self.real_before = real_policy_state()
        self.dir = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
        self.bin = os.path.join(self.dir, 'bin')
        os.mkdir(self.bin)
        for name, text in (('dpkg-query', DPKG_QUERY), ('id', ID), ('apt-get', APT_GET)):
            write_file(os.path.join(self.bin, name), text, 0o755)
        self.policy = os.path.join(self.dir, 'policy-rc.d')
        self.log = os.path.join(self.dir, 'stub.log')

    def tearDown(self):
        self.assertEqual(real_policy_state(), self.real_before,
                         'the machine\'s %s was changed' % REAL_POLICY)

    def run_script(self, installed=False, uid=0, apt_exit=0):
        env = {
            'PATH': self.bin + ':/usr/bin:/bin',
            'CELLGW_POLICY_RC_D': self.policy,
            'STUB_INSTALLED': '1' if installed else '0',
            'STUB_UID': str(uid),
            'STUB_APT_EXIT': str(apt_exit),
            'STUB_LOG': self.log,
        }
        done = subprocess.run(['/bin/bash', runfile('deploy/install-deps.sh')], env=env,
                              capture_output=True, text=True, timeout=120)
        log = []
        if os.path.exists(self.log):
            with open(self.log) as f:
                log = f.read().splitlines()
        return done, log

    def existing_policy(self):
        text = '#!/bin/sh\n# the site\'s own policy\nexit 0\n'
        write_file(self.policy, text, 0o750)
        os.utime(self.policy, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
        info = os.stat(self.policy)
        return text, stat.S_IMODE(info.st_mode), info.st_mtime_ns

    def policy_state(self):
        with open(self.policy) as f:
            text = f.read()
        info = os.stat(self.policy)
        return text, stat.S_IMODE(info.st_mode), info.st_mtime_ns

    def test_install_without_a_policy_uses_its_own_removes_it_and_exits_0(self):
        done, log = self.run_script()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('install-deps: done', done.stdout)
        self.assertEqual(log[0], 'apt-get update -qq')
        self.assertTrue(log[1].startswith('apt-get install -y -qq --no-install-recommends '))
        self.assertIn(' rabbitmq-server ', log[1] + ' ')
        # While apt-get ran, a policy that refuses every service start (101) was in place...
        self.assertTrue(log[2].startswith('policy exit 101 '), log)
        # ... and it is gone afterwards.
        self.assertFalse(os.path.lexists(self.policy))

    def test_install_with_an_existing_policy_leaves_it_alone_and_exits_0(self):
        before = self.existing_policy()
        done, log = self.run_script()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('install-deps: done', done.stdout)
        self.assertEqual(self.policy_state(), before)
        # apt-get saw the site's policy, not one of ours.
        self.assertTrue(log[2].startswith('policy exit 0 '), log)

    def test_failed_install_exits_non_zero_and_removes_the_policy_it_made(self):
        done, log = self.run_script(apt_exit=100)
        self.assertNotEqual(done.returncode, 0)
        self.assertTrue(log[2].startswith('policy exit 101 '), log)
        self.assertFalse(os.path.lexists(self.policy))

    def test_failed_install_exits_non_zero_and_leaves_an_existing_policy_alone(self):
        before = self.existing_policy()
        done, _ = self.run_script(apt_exit=100)
        self.assertNotEqual(done.returncode, 0)
        self.assertEqual(self.policy_state(), before)

    def test_nothing_missing_installs_nothing_and_exits_0(self):
        done, log = self.run_script(installed=True, uid=1000)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, r'install-deps: all \d+ packages present')
        self.assertEqual(log, [])
        self.assertFalse(os.path.lexists(self.policy))

    def test_missing_packages_without_root_exit_1_and_change_nothing(self):
        done, log = self.run_script(uid=1000)
        self.assertEqual(done.returncode, 1)
        self.assertIn('run as root to install them', done.stderr)
        self.assertEqual(log, [])
        self.assertFalse(os.path.lexists(self.policy))


if __name__ == '__main__':
    unittest.main(verbosity=2)
