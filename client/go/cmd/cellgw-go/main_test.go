package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"cellgw/client/go/cellgwv1"
)

// fakeGateway records what one request carried: the request itself, its metadata and how
// much time its deadline left. The end-to-end test (tests/clients) uses the real gateway;
// this one sees what the real gateway does not report back, such as the deadline.
type fakeGateway struct {
	cellgwv1.UnimplementedCellGatewayServer
	mu        sync.Mutex
	request   proto.Message
	md        metadata.MD
	remaining time.Duration
	callErr   error
}

func (f *fakeGateway) record(ctx context.Context, request proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.request = request
	f.md, _ = metadata.FromIncomingContext(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		f.remaining = time.Until(deadline)
	}
}

// seen returns what the last request carried.
func (f *fakeGateway) seen() (proto.Message, metadata.MD, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.request, f.md, f.remaining
}

func (f *fakeGateway) Call(ctx context.Context, r *cellgwv1.CallRequest) (*cellgwv1.CallResponse, error) {
	f.record(ctx, r)
	if f.callErr != nil {
		return nil, f.callErr
	}
	return &cellgwv1.CallResponse{ResultJson: `{"ok": 18446744073709551615}`, MsgId: "m1"}, nil
}

func (f *fakeGateway) Cast(ctx context.Context, r *cellgwv1.CastRequest) (*cellgwv1.CastResponse, error) {
	f.record(ctx, r)
	return &cellgwv1.CastResponse{UniqueId: "c0ffee"}, nil
}

func (f *fakeGateway) Fanout(ctx context.Context, r *cellgwv1.FanoutRequest) (*cellgwv1.FanoutResponse, error) {
	f.record(ctx, r)
	return &cellgwv1.FanoutResponse{UniqueId: "fa11"}, nil
}

func (f *fakeGateway) ListCells(ctx context.Context, r *cellgwv1.ListCellsRequest) (*cellgwv1.ListCellsResponse, error) {
	f.record(ctx, r)
	return &cellgwv1.ListCellsResponse{Cells: []*cellgwv1.CellInfo{
		{Name: "cell1", Connected: true, TransportUrl: "rabbit://u:***@h:5672/", ControlExchange: "nova"},
		{Name: "cell2", TransportUrl: "rabbit://h2/", ControlExchange: "openstack"},
	}}, nil
}

// startFake serves a fakeGateway on a loopback port and points CELLGW_ADDR elsewhere, so a
// test only reaches it through --addr.
func startFake(t *testing.T) (*fakeGateway, string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	fake := &fakeGateway{}
	cellgwv1.RegisterCellGatewayServer(server, fake)
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	for _, name := range []string{"CELLGW_ADDR", "CELLGW_CA_FILE", "CELLGW_CERT_FILE", "CELLGW_KEY_FILE", "CELLGW_TOKEN"} {
		t.Setenv(name, "")
	}
	return fake, listener.Addr().String()
}

func runCommand(args ...string) (code int, stdout, stderr string) {
	var out, err bytes.Buffer
	code = run(args, &out, &err)
	return code, out.String(), err.String()
}

func TestCallSendsTheRequestWithA30SecondDeadlineByDefault(t *testing.T) {
	fake, addr := startFake(t)
	code, stdout, stderr := runCommand("--addr", addr, "call", "--cell", "c1", "--topic", "compute",
		"--server", "host1", "--version", "1.2", "--namespace", "ns", "--exchange", "nova",
		"echo", `{"n": 1}`, "--context", `{"user_id": "u"}`, "--timeout", "1.5",
		"--call-monitor-timeout", "4", "--request-id", "req-go-1")
	if code != 0 || stdout != "{\"ok\": 18446744073709551615}\n" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	want := &cellgwv1.CallRequest{
		Target: &cellgwv1.Target{Cell: "c1", Topic: "compute", Server: "host1", Version: "1.2",
			Namespace: "ns", Exchange: "nova"},
		Method: "echo", ArgsJson: `{"n": 1}`, ContextJson: `{"user_id": "u"}`,
	}
	request, md, remaining := fake.seen()
	got := request.(*cellgwv1.CallRequest)
	if got.GetTimeout().AsDuration() != 1500*time.Millisecond ||
		got.GetCallMonitorTimeout().AsDuration() != 4*time.Second {
		t.Errorf("timeouts %v, %v", got.GetTimeout(), got.GetCallMonitorTimeout())
	}
	got.Timeout, got.CallMonitorTimeout = nil, nil
	if !proto.Equal(got, want) {
		t.Errorf("request %v, want %v", got, want)
	}
	if remaining <= 25*time.Second || remaining > 30*time.Second {
		t.Errorf("deadline left %v, want just under 30 s", remaining)
	}
	if ids := md.Get("x-request-id"); len(ids) != 1 || ids[0] != "req-go-1" {
		t.Errorf("x-request-id %q", ids)
	}
	if auth := md.Get("authorization"); len(auth) != 0 {
		t.Errorf("authorization sent without a token: %q", auth)
	}
}

func TestDeadlineFlagAndTokenFromEnvironment(t *testing.T) {
	fake, addr := startFake(t)
	t.Setenv("CELLGW_ADDR", addr)
	t.Setenv("CELLGW_TOKEN", "env-token")
	if code, _, stderr := runCommand("call", "--topic", "t", "m", "--deadline", "5"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, md, remaining := fake.seen()
	if remaining <= 0 || remaining > 5*time.Second {
		t.Errorf("deadline left %v, want at most 5 s", remaining)
	}
	if auth := md.Get("authorization"); len(auth) != 1 || auth[0] != "Bearer env-token" {
		t.Errorf("authorization %q", auth)
	}
	// A flag beats its variable.
	if code, _, stderr := runCommand("call", "--topic", "t", "m", "--token", "flag-token"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, md, _ := fake.seen(); strings.Join(md.Get("authorization"), ",") != "Bearer flag-token" {
		t.Errorf("authorization %q", md.Get("authorization"))
	}
}

func TestCastFanoutAndListCellsPrintAsCellgwCli(t *testing.T) {
	_, addr := startFake(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cast", "--topic", "t", "note"}, "{\"unique_id\": \"c0ffee\"}\n"},
		{[]string{"fanout", "--topic", "t", "note", "{}"}, "{\"unique_id\": \"fa11\"}\n"},
		{[]string{"list-cells"}, "cell1\tconnected\tcontrol_exchange=nova\trabbit://u:***@h:5672/\n" +
			"cell2\tdisconnected\tcontrol_exchange=openstack\trabbit://h2/\n"},
	} {
		code, stdout, stderr := runCommand(append([]string{"--addr", addr}, c.args...)...)
		if code != 0 || stdout != c.want || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, stdout, stderr)
		}
	}
}

func TestErrorStatusPrintsTheRemoteExceptionAndExits1(t *testing.T) {
	fake, addr := startFake(t)
	st, _ := status.New(codes.Unimplemented, "oslo_messaging.rpc.dispatcher.NoSuchMethod: no").
		WithDetails(&cellgwv1.RemoteError{ExceptionClass: "NoSuchMethod",
			ExceptionModule: "oslo_messaging.rpc.dispatcher", Message: "no", ArgsJson: "[]",
			KwargsJson: "{}"})
	fake.callErr = st.Err()
	code, stdout, stderr := runCommand("--addr", addr, "call", "--topic", "t", "nope")
	want := "cellgw-go: UNIMPLEMENTED: oslo_messaging.rpc.dispatcher.NoSuchMethod: no\n" +
		"remote exception: oslo_messaging.rpc.dispatcher.NoSuchMethod\nmessage: no\nargs: []\nkwargs: {}\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestBadInputExits2WithTheUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, "unknown command 'frobnicate'"},
		{[]string{"call", "--topic", "t"}, "call needs METHOD"},
		{[]string{"fanout"}, "fanout needs METHOD"},
		{[]string{"call", "--topic", "t", "m", "--timeout", "x"}, "--timeout: not a number of seconds"},
		{[]string{"list-cells", "--deadline", "1s"}, "--deadline: not a number of seconds"},
		{[]string{"call", "--topic", "t", "m", "--ca-file", "/nonexistent"}, "CA file: open /nonexistent"},
	} {
		code, stdout, stderr := runCommand(c.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "cellgw-go: "+c.want) ||
			!strings.Contains(stderr, "\nusage:\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, stdout, stderr)
		}
	}
	if code, stdout, _ := runCommand("--help"); code != 0 || stdout != usage {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
}
