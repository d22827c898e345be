// The one place where errors and remote exceptions become grpc::Status.
//
// Where it sits: the last step of every RPC in CellGatewayService, right before
// reactor->Finish(). Inside cellgw everything is absl::Status; absl's codes are gRPC's codes,
// so the mapping of our own errors is one-to-one and keeps the message.
//
// A remote exception (the oslo service's method raised) arrives as data, not as an error, and
// is mapped here (README "Status codes"):
//   NoSuchMethod       (oslo_messaging.rpc.dispatcher)  -> UNIMPLEMENTED
//   UnsupportedVersion (oslo_messaging.rpc.dispatcher)  -> FAILED_PRECONDITION
//   any other exception                                 -> UNKNOWN
// The status carries a google.rpc.Status (code, message, details = [cellgw.v1.RemoteError])
// in its error details, i.e. the grpc-status-details-bin trailer of gRPC's richer error model.
#ifndef CELLGW_GATEWAY_RPC_STATUS_MAPPER_H_
#define CELLGW_GATEWAY_RPC_STATUS_MAPPER_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "bridge/remote_failure.h"
#include "cellgw/v1/gateway.pb.h"

namespace cellgw::gateway {

// Our own errors: same code, same message. OK stays OK.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The gRPC code a remote exception maps to (see the table above).
grpc::StatusCode RemoteFailureCode(const bridge::RemoteFailure& failure);

// The proto form of a remote exception.
v1::RemoteError ToRemoteErrorProto(const bridge::RemoteFailure& failure);

// A non-OK status for a remote exception, message "<module>.<Class>: <message>" (builtins
// without the module), with the RemoteError in its details.
grpc::Status RemoteFailureToGrpcStatus(const bridge::RemoteFailure& failure);

// "OK", "INVALID_ARGUMENT", ...: the canonical name, for metric labels and logs.
absl::string_view StatusCodeName(grpc::StatusCode code);

}  // namespace cellgw::gateway

#endif  // CELLGW_GATEWAY_RPC_STATUS_MAPPER_H_
