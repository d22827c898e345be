package cellgw

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"cellgw/client/go/cellgwv1"
)

func quotaError(t *testing.T) error {
	t.Helper()
	st, err := status.New(codes.Unknown, "cellgw_test_exc.CellQuotaExceeded: over quota").
		WithDetails(&cellgwv1.RemoteError{
			ExceptionClass:  "CellQuotaExceeded",
			ExceptionModule: "cellgw_test_exc",
			Message:         "over quota",
			Traceback:       []string{"Traceback (most recent call last):\n", "  boom"},
			ArgsJson:        `["over quota"]`,
			KwargsJson:      `{"resource": "cores"}`,
		})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestRemoteErrorOfReadsTheDetail(t *testing.T) {
	remote, ok := RemoteErrorOf(quotaError(t))
	if !ok {
		t.Fatal("no RemoteError found")
	}
	if remote.GetExceptionClass() != "CellQuotaExceeded" || remote.GetKwargsJson() != `{"resource": "cores"}` {
		t.Errorf("wrong RemoteError: %v", remote)
	}
}

func TestRemoteErrorOfLooksThroughWrapping(t *testing.T) {
	if _, ok := RemoteErrorOf(fmt.Errorf("resizing: %w", quotaError(t))); !ok {
		t.Error("no RemoteError found in a wrapped error")
	}
}

func TestRemoteErrorOfIgnoresOtherErrorsAndDetails(t *testing.T) {
	other, err := status.New(codes.Unknown, "x").WithDetails(durationpb.New(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{nil, fmt.Errorf("plain"), status.Error(codes.NotFound, "no cell"), other.Err()} {
		if remote, ok := RemoteErrorOf(err); ok {
			t.Errorf("RemoteErrorOf(%v) = %v, want none", err, remote)
		}
	}
}

func TestDescribeErrorMatchesCellgwCli(t *testing.T) {
	want := "UNKNOWN: cellgw_test_exc.CellQuotaExceeded: over quota\n" +
		"remote exception: cellgw_test_exc.CellQuotaExceeded\n" +
		"message: over quota\n" +
		"args: [\"over quota\"]\n" +
		"kwargs: {\"resource\": \"cores\"}\n" +
		"traceback:\nTraceback (most recent call last):\n  boom\n"
	if got := DescribeError(quotaError(t)); got != want {
		t.Errorf("DescribeError:\n%q\nwant\n%q", got, want)
	}
	if got := DescribeError(status.Error(codes.InvalidArgument, "target.topic: empty")); got != "INVALID_ARGUMENT: target.topic: empty\n" {
		t.Errorf("DescribeError without details: %q", got)
	}
	if got := DescribeError(fmt.Errorf("plain")); got != "UNKNOWN: plain\n" {
		t.Errorf("DescribeError of a non-gRPC error: %q", got)
	}
}

func TestCodeNameSpellsCodesAsTheReadme(t *testing.T) {
	for code, want := range map[codes.Code]string{
		codes.OK: "OK", codes.FailedPrecondition: "FAILED_PRECONDITION",
		codes.Unauthenticated: "UNAUTHENTICATED", codes.Code(99): "UNKNOWN",
	} {
		if got := CodeName(code); got != want {
			t.Errorf("CodeName(%d) = %s, want %s", code, got, want)
		}
	}
}
