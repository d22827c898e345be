'use strict';
// The Node.js client of cellgw (oslo.messaging RPC over gRPC): a promise-based client on
// @grpc/grpc-js whose stubs @grpc/proto-loader builds from proto/cellgw/v1/gateway.proto at
// run time, the connection settings every cellgw caller reads (CELLGW_* variables and flags),
// and the RemoteError a failed call carries. Types: index.d.ts.
//
// Field names are the proto's (snake_case: args_json, result_json), as in every other
// language's stubs; int64 values (Duration.seconds) come back as strings.

const { X509Certificate } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const DEFAULT_ADDR = '127.0.0.1:50051';
// Every request gets a deadline unless the caller gives one: a call that waits forever on a
// lost reply is worse than one that fails.
const DEFAULT_DEADLINE_MS = 30000;
// The variables settingsFromEnv() reads, by setting. Empty values count as unset.
const ENV = Object.freeze({
  addr: 'CELLGW_ADDR',
  caFile: 'CELLGW_CA_FILE',
  certFile: 'CELLGW_CERT_FILE',
  keyFile: 'CELLGW_KEY_FILE',
  token: 'CELLGW_TOKEN',
});
// The repository's proto/ directory (this file is client/node/lib/index.js), unless
// CELLGW_PROTO_DIR names another copy.
const PROTO_DIR = process.env.CELLGW_PROTO_DIR || path.resolve(__dirname, '..', '..', '..', 'proto');
const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';
const REMOTE_ERROR_TYPE = 'cellgw.v1.RemoteError';

/** DEFAULT_ADDR overridden by the CELLGW_* variables that are set; flags go on top. */
function settingsFromEnv(env = process.env) {
  const settings = { addr: DEFAULT_ADDR };
  for (const [key, name] of Object.entries(ENV)) {
    if (env[name]) settings[key] = env[name];
  }
  return settings;
}

/** Connection settings that cannot work (a missing or malformed file, half a key pair). */
class SettingsError extends Error {}

/** True when any of caFile, certFile and keyFile is set: the connection then uses TLS. */
function usesTls(settings) {
  return Boolean(settings.caFile || settings.certFile || settings.keyFile);
}

/**
 * gRPC channel credentials for the settings. Reads and parses the files now, so a bad file
 * fails before any request, with a SettingsError that names it.
 */
function channelCredentials(settings) {
  if (!usesTls(settings)) return grpc.credentials.createInsecure();
  if (Boolean(settings.certFile) !== Boolean(settings.keyFile)) {
    throw new SettingsError('a client certificate needs both a certificate file and a key file');
  }
  const read = (what, file) => {
    if (!file) return null;
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new SettingsError(`${what}: ${error.message}`);
    }
  };
  const ca = read('CA file', settings.caFile);
  // grpc-js would take a file with no certificate in it and fail every handshake later.
  if (ca !== null) {
    try {
      new X509Certificate(ca); // eslint-disable-line no-new
    } catch {
      throw new SettingsError(`CA file ${settings.caFile}: no PEM certificate in it`);
    }
  }
  const key = read('client key', settings.keyFile);
  const cert = read('client certificate', settings.certFile);
  try {
    // Without a CA file grpc-js uses its default roots.
    return grpc.credentials.createSsl(ca, key, cert);
  } catch (error) {
    throw new SettingsError(`TLS files: ${error.message}`);
  }
}

let apiCache = null;

/**
 * The service constructor and the two message types the client needs, loaded once from
 * PROTO_DIR: proto-loader for the service, protobufjs (which proto-loader itself uses) to
 * decode google.rpc.Status and cellgw.v1.RemoteError from the status trailer.
 */
function api() {
  if (apiCache) return apiCache;
  const definition = protoLoader.loadSync('cellgw/v1/gateway.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const root = new protobuf.Root();
  // Imports resolve against PROTO_DIR; google/protobuf/*.proto come bundled with protobufjs.
  root.resolvePath = (origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync(['google/rpc/status.proto', 'cellgw/v1/gateway.proto'], { keepCase: true });
  apiCache = {
    CellGateway: grpc.loadPackageDefinition(definition).cellgw.v1.CellGateway,
    Status: root.lookupType('google.rpc.Status'),
    RemoteError: root.lookupType(REMOTE_ERROR_TYPE),
  };
  return apiCache;
}

/** A cellgw gateway: cast, call, fanout and listCells as promises. */
class CellgwClient {
  /**
   * @param settings connection settings; default settingsFromEnv()
   * @param channelOptions extra grpc-js channel options
   */
  constructor(settings = settingsFromEnv(), channelOptions = {}) {
    this.settings = { addr: DEFAULT_ADDR, ...settings };
    this.raw = new (api().CellGateway)(this.settings.addr, channelCredentials(this.settings), channelOptions);
  }

  cast(request, options) {
    return this._unary('Cast', request, options);
  }

  call(request, options) {
    return this._unary('Call', request, options);
  }

  fanout(request, options) {
    return this._unary('Fanout', request, options);
  }

  listCells(options) {
    return this._unary('ListCells', {}, options);
  }

  close() {
    this.raw.close();
  }

  // The token travels as per-request metadata rather than call credentials: grpc-js attaches
  // call credentials to TLS channels only, and the gateway also takes tokens over plaintext.
  _unary(method, request, { deadline, requestId } = {}) {
    const metadata = new grpc.Metadata();
    if (this.settings.token) metadata.set('authorization', `Bearer ${this.settings.token}`);
    if (requestId) metadata.set('x-request-id', requestId);
    const options = { deadline: deadline ?? Date.now() + DEFAULT_DEADLINE_MS };
    return new Promise((resolve, reject) => {
      this.raw[method](request, metadata, options, (error, response) => (error ? reject(error) : resolve(response)));
    });
  }
}

/**
 * The exception a remote method raised, from a failed request's error: the gateway puts a
 * cellgw.v1.RemoteError in the details of the google.rpc.Status it sends in the
 * grpc-status-details-bin trailer. null when the error carries none.
 */
function remoteErrorOf(error) {
  const trailer = error?.metadata?.get?.(STATUS_DETAILS_TRAILER) ?? [];
  if (trailer.length === 0 || !Buffer.isBuffer(trailer[0])) return null;
  const { Status, RemoteError } = api();
  try {
    for (const detail of Status.decode(trailer[0]).details) {
      // type_url is "type.googleapis.com/cellgw.v1.RemoteError"; only the name after the
      // last '/' identifies the type.
      if (detail.type_url.slice(detail.type_url.lastIndexOf('/') + 1) === REMOTE_ERROR_TYPE) {
        return RemoteError.toObject(RemoteError.decode(detail.value), { defaults: true, arrays: true });
      }
    }
  } catch {
    return null; // a trailer that does not decode carries no RemoteError
  }
  return null;
}

/** The canonical name of a gRPC status code ("INVALID_ARGUMENT"), UNKNOWN for others. */
function codeName(code) {
  return typeof grpc.status[code] === 'string' ? grpc.status[code] : 'UNKNOWN';
}

/**
 * A failed request in cellgw-cli's words: "CODE: message" and, for a remote exception, its
 * module and class, message, args, kwargs and traceback, each on its own line. Ends with a
 * newline. An error without a gRPC code counts as UNKNOWN.
 */
function describeError(error) {
  const grpcError = typeof error?.code === 'number';
  let text = `${codeName(grpcError ? error.code : grpc.status.UNKNOWN)}: ${
    grpcError ? error.details : error?.message ?? String(error)
  }\n`;
  const remote = remoteErrorOf(error);
  if (!remote) return text;
  text +=
    `remote exception: ${remote.exception_module}.${remote.exception_class}\n` +
    `message: ${remote.message}\n` +
    `args: ${remote.args_json}\n` +
    `kwargs: ${remote.kwargs_json}\n`;
  if (remote.traceback.length > 0) {
    // The server's entries are Python's formatted lines; most end in a newline already.
    text += `traceback:\n${remote.traceback.join('')}`;
    if (!text.endsWith('\n')) text += '\n';
  }
  return text;
}

module.exports = {
  CellgwClient,
  SettingsError,
  DEFAULT_ADDR,
  DEFAULT_DEADLINE_MS,
  ENV,
  PROTO_DIR,
  api,
  channelCredentials,
  codeName,
  describeError,
  remoteErrorOf,
  settingsFromEnv,
  usesTls,
  status: grpc.status,
};
