// A small C++ client for cellgw: blocking Cast / Call / Fanout / ListCells / Notify over a
// gRPC channel, a Subscribe stream, plus access to the RemoteError a failed Call carries. Depends only on the public
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
  grpc::Status Notify(const v1::NotifyRequest& request, v1::NotifyResponse* response,
                      absl::Time deadline = absl::InfiniteFuture(),
                      const std::string& request_id = "");

  // Opens a Subscribe stream on `context` (which the caller owns and may cancel; set a
  // deadline on it before the call if wanted) and writes `subscription` as its first
  // message. Read notifications from the returned stream, write further SubscribeRequests
  // carrying only ack_ids, and end it with WritesDone() (the gateway then applies the ack_ids
  // sent before and finishes with OK) and Finish(). When the gateway refused the
  // subscription, the first Read() fails and Finish() says why.
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::Notification>> Subscribe(
      grpc::ClientContext* context, const v1::SubscribeRequest& subscription,
      const std::string& request_id = "");

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
