package cellgw

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"cellgw/client/go/cellgwv1"
)

// RemoteErrorOf returns the exception a remote method raised, when err is a failed cellgw
// request that carries one: the gateway puts a cellgw.v1.RemoteError in the details of the
// google.rpc.Status it sends in the grpc-status-details-bin trailer. Wrapped errors are
// looked through.
func RemoteErrorOf(err error) (*cellgwv1.RemoteError, bool) {
	st := statusOf(err)
	if st == nil {
		return nil, false
	}
	for _, detail := range st.Proto().GetDetails() {
		remote := new(cellgwv1.RemoteError)
		if detail.MessageIs(remote) && detail.UnmarshalTo(remote) == nil {
			return remote, true
		}
	}
	return nil, false
}

// statusOf is status.FromError that also finds a status inside wrapped errors; nil for a
// nil error or one that holds no gRPC status.
func statusOf(err error) *status.Status {
	var carrier interface{ GRPCStatus() *status.Status }
	if err == nil || !errors.As(err, &carrier) {
		return nil
	}
	return carrier.GRPCStatus()
}

// CodeName is the canonical name of a gRPC code ("INVALID_ARGUMENT"), as cellgw's README,
// logs and cellgw-cli spell it (Go's codes.Code.String() says "InvalidArgument").
func CodeName(code codes.Code) string {
	if int(code) < len(codeNames) {
		return codeNames[code]
	}
	return "UNKNOWN"
}

var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

// DescribeError is a failed request in cellgw-cli's words: "CODE: message" and, for a remote
// exception, its module and class, message, args, kwargs and traceback, each on its own
// line. The text ends with a newline. An error without a gRPC status is UNKNOWN.
func DescribeError(err error) string {
	st := statusOf(err)
	if st == nil {
		st = status.Convert(err) // OK for nil, UNKNOWN with err's text otherwise
	}
	var text strings.Builder
	text.WriteString(CodeName(st.Code()) + ": " + st.Message() + "\n")
	remote, ok := RemoteErrorOf(err)
	if !ok {
		return text.String()
	}
	text.WriteString("remote exception: " + remote.GetExceptionModule() + "." +
		remote.GetExceptionClass() + "\n")
	text.WriteString("message: " + remote.GetMessage() + "\n")
	text.WriteString("args: " + remote.GetArgsJson() + "\n")
	text.WriteString("kwargs: " + remote.GetKwargsJson() + "\n")
	if len(remote.GetTraceback()) > 0 {
		// The server's entries are Python's formatted lines; most end in a newline already.
		text.WriteString("traceback:\n" + strings.Join(remote.GetTraceback(), ""))
		if !strings.HasSuffix(text.String(), "\n") {
			text.WriteString("\n")
		}
	}
	return text.String()
}
