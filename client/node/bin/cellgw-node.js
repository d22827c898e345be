#!/usr/bin/env node
'use strict';
// The example command: see lib/cli.js and `cellgw-node --help`.
const { main } = require('../lib/cli');

// grpc-js hands an IP address target to TLS as the server name, and Node then warns
// (DEP0123) on stderr, which would garble the command's output; the connection itself
// verifies the address against the certificate as it should (grpc/grpc-node#1919). Only
// that one warning is dropped, and only here: the library leaves process warnings alone.
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) => {
  const code = typeof rest[0] === 'object' ? rest[0]?.code : rest[1];
  if (code !== 'DEP0123') emitWarning.call(process, warning, ...rest);
};

main(process.argv.slice(2)).then(
  (code) => {
    // exitCode, not process.exit(): pending stdout writes still drain.
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`cellgw-node: ${error.stack}\n`);
    process.exitCode = 1;
  },
);
