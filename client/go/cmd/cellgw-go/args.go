package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const usage = `usage:
  cellgw-go [--addr HOST:PORT] call   --topic T METHOD [ARGS_JSON] [options]
  cellgw-go [--addr HOST:PORT] cast   --topic T METHOD [ARGS_JSON] [options]
  cellgw-go [--addr HOST:PORT] fanout --topic T METHOD [ARGS_JSON] [options]
  cellgw-go [--addr HOST:PORT] list-cells

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
`

// valueFlags are the options the command knows; each takes a value, as "--name value" or
// "--name=value", anywhere on the command line (cellgw-cli's rules, not Go's flag package,
// which stops at the first positional argument).
var valueFlags = map[string]bool{
	"addr": true, "cell": true, "topic": true, "exchange": true, "namespace": true,
	"version": true, "server": true, "context": true, "timeout": true,
	"call-monitor-timeout": true, "deadline": true, "request-id": true,
	"ca-file": true, "cert-file": true, "key-file": true, "token": true,
}

// usageError is bad input: the command prints it with the usage text and exits 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// commandLine is the parsed argv: positional[0] is the command, [1] the method, [2] the
// arguments JSON; later positionals are ignored, as cellgw-cli ignores them.
type commandLine struct {
	help       bool
	flags      map[string]string
	positional []string
}

func parseArgs(args []string) (*commandLine, error) {
	line := &commandLine{flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "-h" || arg == "--help" {
			line.help = true
			return line, nil
		}
		if !strings.HasPrefix(arg, "--") {
			line.positional = append(line.positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		if !hasValue {
			if i+1 == len(args) {
				return nil, usageError(fmt.Sprintf("--%s needs a value", name))
			}
			i++
			value = args[i]
		}
		if !valueFlags[name] {
			return nil, usageError("unknown option --" + name)
		}
		line.flags[name] = value
	}
	return line, nil
}

// arg returns positional argument i, or "" when there are fewer.
func (l *commandLine) arg(i int) string {
	if i < len(l.positional) {
		return l.positional[i]
	}
	return ""
}

// seconds reads flag `name` as a number of seconds; ok is false when the flag is absent.
func (l *commandLine) seconds(name string) (d time.Duration, ok bool, err error) {
	text, present := l.flags[name]
	if !present {
		return 0, false, nil
	}
	value, err := strconv.ParseFloat(text, 64)
	// time.Duration holds ±292 years; anything beyond that, or inf/NaN, is no timeout.
	if err != nil || math.IsNaN(value) || math.Abs(value) > math.MaxInt64/1e9 {
		return 0, true, usageError(fmt.Sprintf("--%s: not a number of seconds", name))
	}
	return time.Duration(math.Round(value * 1e9)), true, nil
}
