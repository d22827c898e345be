// Command cellgw-go is the Go twin of cellgw-cli: cast, call, fanout and list-cells against a
// running cellgw gateway, with the same arguments, output and exit status.
//
// It prints the call's result JSON (or {"unique_id": ...} for a cast or fanout) on stdout
// and exits 0; on an error status it prints the status and, for a remote exception, its
// class, module, message, args, kwargs and traceback on stderr and exits 1. Usage errors
// exit 2. Every request has a deadline: --deadline, or 30 s.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	"cellgw/client/go/cellgw"
	"cellgw/client/go/cellgwv1"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, returning its exit status, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	err := execute(args, stdout)
	var usageErr usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "cellgw-go: %s\n%s", usageErr, usage)
		return 2
	default:
		fmt.Fprint(stderr, "cellgw-go: "+cellgw.DescribeError(err))
		return 1
	}
}

// execute runs the command line; a usageError means bad input, any other error is the
// request's failed status.
func execute(args []string, stdout io.Writer) error {
	line, err := parseArgs(args)
	if err != nil {
		return err
	}
	if line.help {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if len(line.positional) == 0 {
		return usageError("no command given")
	}
	deadline, given, err := line.seconds("deadline")
	if err != nil {
		return err
	}
	if !given {
		deadline = cellgw.DefaultDeadline
	}
	send, err := prepare(line)
	if err != nil {
		return err
	}

	settings := cellgw.SettingsFromEnv()
	for flag, field := range map[string]*string{
		"addr": &settings.Addr, "ca-file": &settings.CAFile, "cert-file": &settings.CertFile,
		"key-file": &settings.KeyFile, "token": &settings.Token,
	} {
		if value, ok := line.flags[flag]; ok {
			*field = value
		}
	}
	conn, err := cellgw.Dial(settings)
	if err != nil { // an unreadable or malformed TLS file: bad input
		return usageError(err.Error())
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if id := line.flags["request-id"]; id != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
	}
	output, err := send(ctx, cellgwv1.NewCellGatewayClient(conn))
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, output)
	return nil
}

// sender performs the prepared request and returns what to print.
type sender func(context.Context, cellgwv1.CellGatewayClient) (string, error)

// prepare checks the command and its arguments and builds its request, before anything is
// dialled, so bad input never costs a connection.
func prepare(line *commandLine) (sender, error) {
	command := line.positional[0]
	if command == "list-cells" {
		return func(ctx context.Context, client cellgwv1.CellGatewayClient) (string, error) {
			response, err := client.ListCells(ctx, &cellgwv1.ListCellsRequest{})
			var out strings.Builder
			for _, cell := range response.GetCells() {
				state := "disconnected"
				if cell.GetConnected() {
					state = "connected"
				}
				fmt.Fprintf(&out, "%s\t%s\tcontrol_exchange=%s\t%s\n", cell.GetName(), state,
					cell.GetControlExchange(), cell.GetTransportUrl())
			}
			return out.String(), err
		}, nil
	}
	if command != "call" && command != "cast" && command != "fanout" {
		return nil, usageError(fmt.Sprintf("unknown command '%s'", command))
	}
	if len(line.positional) < 2 {
		return nil, usageError(command + " needs METHOD")
	}
	target := &cellgwv1.Target{
		Cell: line.flags["cell"], Topic: line.flags["topic"], Exchange: line.flags["exchange"],
		Namespace: line.flags["namespace"], Version: line.flags["version"],
		Server: line.flags["server"],
	}
	method, argsJSON, contextJSON := line.arg(1), line.arg(2), line.flags["context"]
	switch command {
	case "cast":
		request := &cellgwv1.CastRequest{Target: target, Method: method, ArgsJson: argsJSON,
			ContextJson: contextJSON}
		return func(ctx context.Context, client cellgwv1.CellGatewayClient) (string, error) {
			response, err := client.Cast(ctx, request)
			return uniqueID(response.GetUniqueId()), err
		}, nil
	case "fanout":
		request := &cellgwv1.FanoutRequest{Target: target, Method: method, ArgsJson: argsJSON,
			ContextJson: contextJSON}
		return func(ctx context.Context, client cellgwv1.CellGatewayClient) (string, error) {
			response, err := client.Fanout(ctx, request)
			return uniqueID(response.GetUniqueId()), err
		}, nil
	}
	request := &cellgwv1.CallRequest{Target: target, Method: method, ArgsJson: argsJSON,
		ContextJson: contextJSON}
	if timeout, ok, err := line.seconds("timeout"); err != nil {
		return nil, err
	} else if ok {
		request.Timeout = durationpb.New(timeout)
	}
	if monitor, ok, err := line.seconds("call-monitor-timeout"); err != nil {
		return nil, err
	} else if ok {
		request.CallMonitorTimeout = durationpb.New(monitor)
	}
	return func(ctx context.Context, client cellgwv1.CellGatewayClient) (string, error) {
		response, err := client.Call(ctx, request)
		return response.GetResultJson() + "\n", err
	}, nil
}

// uniqueID prints a cast's or fanout's id as cellgw-cli does: a one-key JSON object.
func uniqueID(id string) string {
	return fmt.Sprintf("{\"unique_id\": \"%s\"}\n", id)
}
