// cellgw-example-worker: a small gRPC worker that serves an oslo.messaging RPC topic through
// cellgw's Serve stream, so that oslo RPC clients (Python services) can call C++ code.
//
//   cellgw-example-worker [--addr 127.0.0.1:50051] [--cell CELL] --topic TOPIC --server NAME
//
// It registers one endpoint (default namespace, version 1.0) with two methods:
//   hello(**kw)  -> {"greeting": "hello from <server>", "kw": <the keyword arguments>}
//   fail(**kw)   raises ValueError("fail was called"), which the caller's oslo rebuilds as a
//                ValueError, as from a Python server
// Casts and fanouts of those methods are answered with their id only. It prints one line per
// request it answers, and exits when the gateway ends the stream (non-zero unless OK). SIGTERM
// or SIGINT stop it cleanly: the stream is cancelled (the gateway fails any call it still held,
// as for a worker that goes) and it exits 0.
//
// Deliberately simple: one thread answers, in arrival order, on the synchronous gRPC API (a
// second one only waits for the stop signals). The arguments are spliced into the result as
// JSON text, never parsed, so big integers and unicode come back exactly as the caller wrote
// them.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "cellgw/v1/gateway.grpc.pb.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: cellgw-example-worker [--addr HOST:PORT] [--cell CELL] --topic TOPIC "
               "--server NAME\n");
  return 2;
}

// A JSON string literal for ASCII-safe `text` (the names used here).
std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:50051", cell, topic, server;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage();
    const std::string value = argv[++i];
    if (flag == "--addr") {
      addr = value;
    } else if (flag == "--cell") {
      cell = value;
    } else if (flag == "--topic") {
      topic = value;
    } else if (flag == "--server") {
      server = value;
    } else {
      return Usage();
    }
  }
  if (topic.empty() || server.empty()) return Usage();

  // Blocked before gRPC starts its threads, so that they inherit the mask and only the watcher
  // below receives these signals: a handler could not call TryCancel (not async-signal-safe).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  grpc::ClientContext context;
  std::atomic<bool> stream_over{false};
  std::atomic<bool> stopped_by_signal{false};
  std::thread watcher([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    if (stream_over.load()) return;  // woken by main to let it exit
    stopped_by_signal.store(true);
    context.TryCancel();
  });

  auto stub = cellgw::v1::CellGateway::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  auto stream = stub->Serve(&context);
  cellgw::v1::ServeRequest first;
  cellgw::v1::Registration* registration = first.mutable_register_();
  registration->set_cell(cell);
  registration->set_topic(topic);
  registration->set_server(server);
  cellgw::v1::Endpoint* endpoint = registration->add_endpoints();
  endpoint->add_methods("hello");
  endpoint->add_methods("fail");
  stream->Write(first);

  cellgw::v1::ServeEvent event;
  while (stream->Read(&event)) {
    if (event.has_registered()) {
      std::printf("registered: consuming");
      for (const std::string& queue : event.registered().queues()) {
        std::printf(" %s", queue.c_str());
      }
      std::printf("\n");
      std::fflush(stdout);
      continue;
    }
    const cellgw::v1::Incoming& in = event.incoming();
    cellgw::v1::ServeRequest answer;
    cellgw::v1::Reply* reply = answer.mutable_reply();
    reply->set_id(in.id());
    if (in.method() == "fail") {
      cellgw::v1::RemoteError* error = reply->mutable_error();
      error->set_exception_class("ValueError");
      error->set_exception_module("builtins");
      error->set_message("fail was called");
      error->add_traceback("ValueError: fail was called\n");
      error->set_args_json("[\"fail was called\"]");
    } else if (in.kind() == cellgw::v1::Incoming::CALL) {
      reply->set_result_json("{\"greeting\": " + Quote("hello from " + server) +
                             ", \"kw\": " + in.args_json() + "}");
    }
    std::printf("answered: %s %s %s\n", cellgw::v1::Incoming::Kind_Name(in.kind()).c_str(),
                in.method().c_str(), in.args_json().c_str());
    std::fflush(stdout);
    if (!stream->Write(answer)) break;
  }
  const grpc::Status status = stream->Finish();
  stream_over.store(true);
  pthread_kill(watcher.native_handle(), SIGTERM);  // no-op wake-up if it already returned
  watcher.join();
  if (stopped_by_signal.load()) {
    std::fprintf(stderr, "stopped by signal: stream cancelled\n");
    return 0;
  }
  std::fprintf(stderr, "stream ended: %d %s\n", static_cast<int>(status.error_code()),
               status.error_message().c_str());
  return status.ok() ? 0 : 1;
}
