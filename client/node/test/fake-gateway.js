'use strict';
// A CellGateway on loopback that records what each request carried (request, metadata, time
// left until its deadline), for the unit tests. tests/clients runs against the real gateway;
// this one sees what the real gateway does not report back, such as the deadline.

const grpc = require('@grpc/grpc-js');
const { api } = require('../lib');

/** google.rpc.Status bytes with one cellgw.v1.RemoteError, as the gateway sends them. */
function statusDetails(code, message, remote) {
  const { Status, RemoteError } = api();
  return Buffer.from(
    Status.encode({
      code,
      message,
      details: [{ type_url: 'type.googleapis.com/cellgw.v1.RemoteError', value: RemoteError.encode(remote).finish() }],
    }).finish(),
  );
}

/** Starts the fake; resolves to {addr, seen, failCallWith(error), stop()}. */
async function startFakeGateway() {
  const fake = { seen: null, callError: null };
  const record = (call) => {
    const deadline = call.getDeadline();
    fake.seen = {
      request: call.request,
      metadata: call.metadata,
      remainingMs: deadline instanceof Date || typeof deadline === 'number' ? Number(deadline) - Date.now() : Infinity,
    };
  };
  const server = new grpc.Server();
  server.addService(api().CellGateway.service, {
    Call(call, done) {
      record(call);
      if (fake.callError) done(fake.callError);
      else done(null, { result_json: '{"ok": 18446744073709551615}', msg_id: 'm1' });
    },
    Cast(call, done) {
      record(call);
      done(null, { unique_id: 'c0ffee' });
    },
    Fanout(call, done) {
      record(call);
      done(null, { unique_id: 'fa11' });
    },
    ListCells(call, done) {
      record(call);
      done(null, {
        cells: [
          { name: 'cell1', connected: true, transport_url: 'rabbit://u:***@h:5672/', control_exchange: 'nova' },
          { name: 'cell2', connected: false, transport_url: 'rabbit://h2/', control_exchange: 'openstack' },
        ],
      });
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound)));
  fake.addr = `127.0.0.1:${port}`;
  fake.failCallWith = (error) => {
    fake.callError = error;
  };
  fake.stop = () => new Promise((resolve) => server.tryShutdown(resolve));
  return fake;
}

module.exports = { startFakeGateway, statusDetails };
