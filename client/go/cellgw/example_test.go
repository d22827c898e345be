package cellgw_test

import (
	"context"
	"fmt"
	"log"

	"cellgw/client/go/cellgw"
	"cellgw/client/go/cellgwv1"
)

// A call with the caller's usual settings (CELLGW_* variables), the default deadline, and
// the remote exception when the method raised. Compiled by `go vet`/`go test`; it needs a
// gateway to run.
func ExampleRemoteErrorOf() {
	conn, err := cellgw.Dial(cellgw.SettingsFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cellgw.DefaultDeadline)
	defer cancel()

	reply, err := cellgwv1.NewCellGatewayClient(conn).Call(ctx, &cellgwv1.CallRequest{
		Target:   &cellgwv1.Target{Topic: "compute", Version: "6.2", Server: "compute-1"},
		Method:   "reserve_cores",
		ArgsJson: `{"cores": 64}`,
	})
	if remote, ok := cellgw.RemoteErrorOf(err); ok {
		fmt.Println(remote.GetExceptionClass(), remote.GetKwargsJson())
		return
	}
	if err != nil {
		log.Fatal(cellgw.DescribeError(err))
	}
	fmt.Println(reply.GetResultJson())
}
