// A small C++ client for cellgw: blocking Cast / Call / Fanout / ListCells over a gRPC
// channel, plus access to the RemoteError a failed Call carries. Depends only on the public
// proto; other languages use their own gRPC stubs of proto/cellgw/v1/gateway.proto.
//
// Thread-safe: one CellgwClient may be shared by many threads (gRPC stubs are).
#ifndef CELLGW_CLIENT_CELLGW_CLIENT_H_
#define CELLGW_CLIENT_CELLGW_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "cellgw/v1/gateway.grpc.pb.h"

namespace cellgw::client {

class CellgwClient {
 public:
  explicit CellgwClient(std::shared_ptr<grpc::Channel> channel);
  // An insecure channel to `address` ("host:port").
  static CellgwClient Connect(const std::string& address);

  // Each returns the RPC's status; on OK the response is filled. `deadline` of
  // InfiniteFuture sends none. `request_id`, when not empty, goes out as x-request-id.
  grpc::Status Cast(const v1::CastRequest& request, v1::CastResponse* response,
                    absl::Time deadline = absl::InfiniteFuture(),
                    const std::string& request_id = "");
  grpc::Status Call(const v1::CallRequest& request, v1::CallResponse* response,
                    absl::Time deadline = absl::InfiniteFuture(),
                    const std::string& request_id = "");
  grpc::Status Fanout(const v1::FanoutRequest& request, v1::FanoutResponse* response,
                      absl::Time deadline = absl::InfiniteFuture(),
                      const std::string& request_id = "");
  grpc::Status ListCells(v1::ListCellsResponse* response,
                         absl::Time deadline = absl::InfiniteFuture());

  v1::CellGateway::Stub& stub() { return *stub_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CellGateway::Stub> stub_;
};

// The RemoteError inside a failed Call's status details (grpc-status-details-bin), if any.
std::optional<v1::RemoteError> RemoteErrorOf(const grpc::Status& status);

// A human-readable account of a failed status: code, message and, for remote exceptions,
// class, module, args, kwargs and traceback.
std::string DescribeError(const grpc::Status& status);

}  // namespace cellgw::client

#endif  // CELLGW_CLIENT_CELLGW_CLIENT_H_
