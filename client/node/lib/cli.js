'use strict';
// cellgw-node: the Node.js twin of cellgw-cli, with the same arguments, output and exit status
// (0; 1 on an error status, printed with its RemoteError; 2 on bad input). Every request has
// a deadline: --deadline, or 30 s.

const { CellgwClient, DEFAULT_DEADLINE_MS, SettingsError, describeError, settingsFromEnv } = require('./index');

const USAGE = `usage:
  cellgw-node [--addr HOST:PORT] call   --topic T METHOD [ARGS_JSON] [options]
  cellgw-node [--addr HOST:PORT] cast   --topic T METHOD [ARGS_JSON] [options]
  cellgw-node [--addr HOST:PORT] fanout --topic T METHOD [ARGS_JSON] [options]
  cellgw-node [--addr HOST:PORT] list-cells

options:
  --addr HOST:PORT            gateway address (default 127.0.0.1:50051, or $CELLGW_ADDR)
  --cell NAME                 cell to route to (optional when the gateway has one cell)
  --topic T                   target topic (required for call/cast/fanout)
  --exchange E                topic exchange (default: the cell's control_exchange)
  --namespace N               endpoint namespace
  --version X.Y[.Z]           requested API version
  --server S                  send to this server only (<topic>.<server>)
  --context JSON              request context, a JSON object (default {})
  --timeout SECONDS           call timeout (default: the cell's, 60 s)
  --call-monitor-timeout SECONDS
  --deadline SECONDS          gRPC deadline for the request (default 30)
  --request-id ID             sent as x-request-id

connection (a flag beats its environment variable):
  --ca-file FILE              CAs (PEM) for the gateway's certificate; turns TLS on
                              ($CELLGW_CA_FILE)
  --cert-file FILE            client certificate (PEM) for mutual TLS ($CELLGW_CERT_FILE)
  --key-file FILE             its private key ($CELLGW_KEY_FILE)
  --token TOKEN               sent as "authorization: Bearer TOKEN" ($CELLGW_TOKEN)
`;

// Every option takes a value, "--name value" or "--name=value", anywhere on the line.
const VALUE_FLAGS = new Set([
  'addr', 'cell', 'topic', 'exchange', 'namespace', 'version', 'server', 'context', 'timeout',
  'call-monitor-timeout', 'deadline', 'request-id', 'ca-file', 'cert-file', 'key-file', 'token',
]);
// Flags that fill connection settings, over the CELLGW_* variables.
const CONNECTION_FLAGS = { addr: 'addr', 'ca-file': 'caFile', 'cert-file': 'certFile', 'key-file': 'keyFile', token: 'token' };
// Largest |seconds| a Duration and a Date can both hold here: as in the Go command.
const MAX_SECONDS = 9223372036;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Bad input: printed with the usage text, exit status 2. */
class UsageError extends Error {}

/** argv (without node and the script) as {help, flags, positional}; throws UsageError. */
function parseArgs(args) {
  const flags = new Map();
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help') return { help: true, flags, positional };
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else if (i + 1 < args.length) {
      value = args[++i];
    } else {
      throw new UsageError(`--${name} needs a value`);
    }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
    flags.set(name, value);
  }
  return { help: false, flags, positional };
}

/** Flag `name` as seconds (a decimal number), or undefined when absent; throws UsageError. */
function seconds(flags, name) {
  if (!flags.has(name)) return undefined;
  const text = flags.get(name);
  const value = Number(text);
  if (!DECIMAL.test(text) || Math.abs(value) > MAX_SECONDS) {
    throw new UsageError(`--${name}: not a number of seconds`);
  }
  return value;
}

/** Seconds as a google.protobuf.Duration (both fields carry the sign, as the proto says). */
function duration(value) {
  let whole = Math.trunc(value);
  let nanos = Math.round((value - whole) * 1e9);
  if (Math.abs(nanos) >= 1e9) {
    whole += Math.sign(nanos);
    nanos = 0;
  }
  return { seconds: String(whole), nanos };
}

/**
 * Checks the command and its arguments and returns a function that sends the request and
 * returns what to print, before anything connects.
 */
function prepare({ flags, positional }) {
  const [command, method, argsJson = ''] = positional;
  if (command === 'list-cells') {
    return async (client, options) => {
      const { cells } = await client.listCells(options);
      return cells
        .map((cell) =>
          `${cell.name}\t${cell.connected ? 'connected' : 'disconnected'}\t` +
          `control_exchange=${cell.control_exchange}\t${cell.transport_url}\n`)
        .join('');
    };
  }
  if (!['call', 'cast', 'fanout'].includes(command)) throw new UsageError(`unknown command '${command}'`);
  if (positional.length < 2) throw new UsageError(`${command} needs METHOD`);
  const flag = (name) => flags.get(name) ?? '';
  const request = {
    target: {
      cell: flag('cell'),
      topic: flag('topic'),
      exchange: flag('exchange'),
      namespace: flag('namespace'),
      version: flag('version'),
      server: flag('server'),
    },
    method,
    args_json: argsJson,
    context_json: flag('context'),
  };
  if (command !== 'call') {
    return async (client, options) => {
      const { unique_id: id } = await client[command](request, options);
      return `{"unique_id": "${id}"}\n`;
    };
  }
  const timeout = seconds(flags, 'timeout');
  if (timeout !== undefined) request.timeout = duration(timeout);
  const monitor = seconds(flags, 'call-monitor-timeout');
  if (monitor !== undefined) request.call_monitor_timeout = duration(monitor);
  return async (client, options) => `${(await client.call(request, options)).result_json}\n`;
}

/**
 * Runs one command line; resolves to its exit status. `io` holds stdout, stderr (writable
 * streams) and env, so tests can drive it.
 */
async function main(args, { stdout = process.stdout, stderr = process.stderr, env = process.env } = {}) {
  let send;
  let client;
  const options = {};
  try {
    const line = parseArgs(args);
    if (line.help) {
      stdout.write(USAGE);
      return 0;
    }
    if (line.positional.length === 0) throw new UsageError('no command given');
    const deadlineSeconds = seconds(line.flags, 'deadline');
    options.deadline = Date.now() + (deadlineSeconds === undefined ? DEFAULT_DEADLINE_MS : deadlineSeconds * 1000);
    if (line.flags.get('request-id')) options.requestId = line.flags.get('request-id');
    send = prepare(line);
    const settings = settingsFromEnv(env);
    for (const [flag, key] of Object.entries(CONNECTION_FLAGS)) {
      if (line.flags.has(flag)) settings[key] = line.flags.get(flag);
    }
    client = new CellgwClient(settings);
  } catch (error) {
    // SettingsError: an unreadable or malformed TLS file, bad input like a bad flag.
    if (!(error instanceof UsageError || error instanceof SettingsError)) throw error;
    stderr.write(`cellgw-node: ${error.message}\n${USAGE}`);
    return 2;
  }
  try {
    stdout.write(await send(client, options));
    return 0;
  } catch (error) {
    if (typeof error?.code !== 'number') throw error; // a bug here, not a status
    stderr.write(`cellgw-node: ${describeError(error)}`);
    return 1;
  } finally {
    client.close();
  }
}

module.exports = { USAGE, UsageError, main, parseArgs };
