'use strict';
const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');
const grpc = require('@grpc/grpc-js');
const { USAGE, UsageError, main, parseArgs } = require('../lib/cli');
const { startFakeGateway, statusDetails } = require('./fake-gateway');

let fake;
before(async () => {
  fake = await startFakeGateway();
});
after(() => fake.stop());

/** Runs the command with `env` as its whole environment; resolves to {code, stdout, stderr}. */
async function run(args, env = {}) {
  const out = [];
  const err = [];
  const code = await main(args, {
    stdout: { write: (text) => out.push(text) },
    stderr: { write: (text) => err.push(text) },
    env,
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

test('parseArgs takes flags anywhere, as cellgw-cli does', () => {
  const line = parseArgs(['call', '--topic', 'compute', 'echo', '--cell=c1', '{"a": 1}', '-x', '--context', '{}']);
  assert.deepEqual(line.positional, ['call', 'echo', '{"a": 1}', '-x']);
  assert.deepEqual(Object.fromEntries(line.flags), { topic: 'compute', cell: 'c1', context: '{}' });
  assert.equal(parseArgs(['call', '-h', '--bogus']).help, true);
  assert.throws(() => parseArgs(['call', '--topc', 'x']), new UsageError('unknown option --topc'));
  assert.throws(() => parseArgs(['call', 'echo', '--topic']), new UsageError('--topic needs a value'));
});

test('call sends the request with a 30 s deadline by default', async () => {
  const result = await run(['--addr', fake.addr, 'call', '--cell', 'c1', '--topic', 'compute', '--server', 'host1',
    '--version', '1.2', '--namespace', 'ns', '--exchange', 'nova', 'echo', '{"n": 1}', '--context', '{"user_id": "u"}',
    '--timeout', '1.5', '--call-monitor-timeout', '4', '--request-id', 'req-node-1']);
  assert.deepEqual(result, { code: 0, stdout: '{"ok": 18446744073709551615}\n', stderr: '' });
  const { request, metadata, remainingMs } = fake.seen;
  assert.deepEqual(request.target, { cell: 'c1', topic: 'compute', server: 'host1', version: '1.2', namespace: 'ns', exchange: 'nova' });
  assert.equal(request.method, 'echo');
  assert.equal(request.args_json, '{"n": 1}');
  assert.equal(request.context_json, '{"user_id": "u"}');
  assert.deepEqual(request.timeout, { seconds: '1', nanos: 500000000 });
  assert.deepEqual(request.call_monitor_timeout, { seconds: '4', nanos: 0 });
  assert.ok(remainingMs > 25000 && remainingMs <= 30000, `deadline ${remainingMs} ms away`);
  assert.deepEqual(metadata.get('x-request-id'), ['req-node-1']);
  assert.deepEqual(metadata.get('authorization'), []);
});

test('--deadline, CELLGW_ADDR and CELLGW_TOKEN; a flag beats its variable', async () => {
  const env = { CELLGW_ADDR: fake.addr, CELLGW_TOKEN: 'env-token' };
  assert.equal((await run(['call', '--topic', 't', 'm', '--deadline', '5'], env)).code, 0);
  assert.ok(fake.seen.remainingMs > 0 && fake.seen.remainingMs <= 5000, `deadline ${fake.seen.remainingMs} ms away`);
  assert.deepEqual(fake.seen.metadata.get('authorization'), ['Bearer env-token']);
  assert.equal((await run(['call', '--topic', 't', 'm', '--token', 'flag-token'], env)).code, 0);
  assert.deepEqual(fake.seen.metadata.get('authorization'), ['Bearer flag-token']);
});

test('cast, fanout and list-cells print as cellgw-cli', async () => {
  const env = { CELLGW_ADDR: fake.addr };
  assert.deepEqual(await run(['cast', '--topic', 't', 'note'], env), { code: 0, stdout: '{"unique_id": "c0ffee"}\n', stderr: '' });
  assert.deepEqual(await run(['fanout', '--topic', 't', 'note', '{}'], env), { code: 0, stdout: '{"unique_id": "fa11"}\n', stderr: '' });
  assert.deepEqual(await run(['list-cells'], env), {
    code: 0,
    stdout: 'cell1\tconnected\tcontrol_exchange=nova\trabbit://u:***@h:5672/\n' +
      'cell2\tdisconnected\tcontrol_exchange=openstack\trabbit://h2/\n',
    stderr: '',
  });
});

test('an error status prints the remote exception and exits 1', async () => {
  const message = 'oslo_messaging.rpc.dispatcher.NoSuchMethod: no';
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', statusDetails(grpc.status.UNIMPLEMENTED, message, {
    exception_class: 'NoSuchMethod', exception_module: 'oslo_messaging.rpc.dispatcher', message: 'no',
    args_json: '[]', kwargs_json: '{}',
  }));
  fake.failCallWith({ code: grpc.status.UNIMPLEMENTED, details: message, metadata });
  try {
    assert.deepEqual(await run(['--addr', fake.addr, 'call', '--topic', 't', 'nope']), {
      code: 1,
      stdout: '',
      stderr: `cellgw-node: UNIMPLEMENTED: ${message}\n` +
        'remote exception: oslo_messaging.rpc.dispatcher.NoSuchMethod\nmessage: no\nargs: []\nkwargs: {}\n',
    });
  } finally {
    fake.failCallWith(null);
  }
});

test('bad input exits 2 with the usage; --help exits 0', async () => {
  for (const [args, why] of [
    [[], 'no command given'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['call', '--topic', 't'], 'call needs METHOD'],
    [['fanout'], 'fanout needs METHOD'],
    [['call', '--topic', 't', 'm', '--timeout', 'x'], '--timeout: not a number of seconds'],
    [['list-cells', '--deadline', '1s'], '--deadline: not a number of seconds'],
    [['call', '--topic', 't', 'm', '--ca-file', '/nonexistent'], 'CA file: ENOENT'],
  ]) {
    const result = await run(args);
    assert.equal(result.code, 2, `${args}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.ok(result.stderr.startsWith(`cellgw-node: ${why}`), result.stderr);
    assert.ok(result.stderr.endsWith(`\n${USAGE}`));
  }
  assert.deepEqual(await run(['--help']), { code: 0, stdout: USAGE, stderr: '' });
});
