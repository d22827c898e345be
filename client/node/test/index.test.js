'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const grpc = require('@grpc/grpc-js');
const { SettingsError, channelCredentials, codeName, describeError, remoteErrorOf, settingsFromEnv, usesTls } =
  require('../lib');
const { statusDetails } = require('./fake-gateway');

const QUOTA = {
  exception_class: 'CellQuotaExceeded',
  exception_module: 'cellgw_test_exc',
  message: 'over quota',
  traceback: ['Traceback (most recent call last):\n', '  boom'],
  args_json: '["over quota"]',
  kwargs_json: '{"resource": "cores"}',
};

function quotaError() {
  const metadata = new grpc.Metadata();
  const message = 'cellgw_test_exc.CellQuotaExceeded: over quota';
  metadata.set('grpc-status-details-bin', statusDetails(grpc.status.UNKNOWN, message, QUOTA));
  return Object.assign(new Error(`2 UNKNOWN: ${message}`), { code: grpc.status.UNKNOWN, details: message, metadata });
}

test('settingsFromEnv: default address, CELLGW_* variables, empty ones ignored', () => {
  assert.deepEqual(settingsFromEnv({ CELLGW_ADDR: '' }), { addr: '127.0.0.1:50051' });
  assert.deepEqual(
    settingsFromEnv({
      CELLGW_ADDR: 'gw:443', CELLGW_CA_FILE: 'ca.pem', CELLGW_CERT_FILE: 'c.pem', CELLGW_KEY_FILE: 'c.key',
      CELLGW_TOKEN: 't0ken',
    }),
    { addr: 'gw:443', caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'c.key', token: 't0ken' },
  );
});

test('usesTls with any file, not with a token alone', () => {
  assert.ok(usesTls({ caFile: 'a' }));
  assert.ok(usesTls({ certFile: 'b', keyFile: 'c' }));
  assert.ok(!usesTls({ addr: 'x:1', token: 't' }));
});

test('channelCredentials rejects missing files, bad PEM and half a key pair', () => {
  const notPem = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cellgw-node-')), 'ca.pem');
  fs.writeFileSync(notPem, 'not a certificate');
  for (const [settings, pattern] of [
    [{ caFile: '/nonexistent/ca.pem' }, /^CA file: ENOENT/],
    [{ caFile: notPem }, /no PEM certificate in it$/],
    [{ certFile: 'c.pem' }, /both a certificate file and a key file/],
  ]) {
    assert.throws(() => channelCredentials(settings), (error) => error instanceof SettingsError && pattern.test(error.message));
  }
});

test('remoteErrorOf reads the RemoteError from the status trailer', () => {
  assert.deepEqual(remoteErrorOf(quotaError()), QUOTA);
});

test('remoteErrorOf: null without a trailer, for other errors and for undecodable bytes', () => {
  const broken = new grpc.Metadata();
  broken.set('grpc-status-details-bin', Buffer.from([0xff, 0xff, 0xff]));
  for (const error of [null, new Error('plain'), { code: 5, details: 'no cell', metadata: new grpc.Metadata() },
    { code: 2, details: 'x', metadata: broken }]) {
    assert.equal(remoteErrorOf(error), null);
  }
});

test('describeError prints what cellgw-cli prints', () => {
  assert.equal(
    describeError(quotaError()),
    'UNKNOWN: cellgw_test_exc.CellQuotaExceeded: over quota\n' +
      'remote exception: cellgw_test_exc.CellQuotaExceeded\n' +
      'message: over quota\n' +
      'args: ["over quota"]\n' +
      'kwargs: {"resource": "cores"}\n' +
      'traceback:\nTraceback (most recent call last):\n  boom\n',
  );
  assert.equal(describeError({ code: 3, details: 'target.topic: empty' }), 'INVALID_ARGUMENT: target.topic: empty\n');
  assert.equal(describeError(new Error('plain')), 'UNKNOWN: plain\n');
});

test('codeName spells codes as the README', () => {
  assert.equal(codeName(0), 'OK');
  assert.equal(codeName(9), 'FAILED_PRECONDITION');
  assert.equal(codeName(16), 'UNAUTHENTICATED');
  assert.equal(codeName(99), 'UNKNOWN');
});
