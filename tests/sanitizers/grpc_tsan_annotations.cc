// ThreadSanitizer support for Debian's gRPC (tests/sanitizers; linked into every binary by
// --config=tsan, see BUILD.bazel). Never part of a normal build.
//
// gRPC's C++ API is header code, compiled into our instrumented binaries; the C core behind it
// (libgrpc) is not instrumented. A batch started on one thread (grpc_call_start_batch, e.g.
// when a reactor's Finish runs on a cell's connection thread) completes on another (the
// thread that takes the tag out of the completion queue and runs its callback), and the core
// carries it across with atomics TSan never sees. The call objects on both sides (CallOpSet,
// CallbackWithSuccessTag, ...) then look like data races. This file defines the core's entry
// points in the executable, forwards to libgrpc (dlsym(RTLD_NEXT)) and marks the hand-over of
// a tag: __tsan_release(tag) before the batch starts, __tsan_acquire(tag) once the completion
// queue returns it. That is the ordering gRPC guarantees its users; races in our own code
// stay visible.
//
// The same for a server's end: grpc::Server's shutdown waits until every call is released
// (a callback RPC's reactor runs OnDone, then its call is unreffed), with atomics in the
// uninstrumented libgrpc++. Without the edge, an object a reactor's OnDone used (the
// service's metrics, say) looks raced by its destruction after the server's. Every
// grpc_call_unref releases one sync object, grpc_server_destroy (after Shutdown and Wait)
// acquires it.

#include <dlfcn.h>
#include <grpc/grpc.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#if !defined(__SANITIZE_THREAD__) && !(defined(__has_feature) && __has_feature(thread_sanitizer))
#error "grpc_tsan_annotations.cc is only for -fsanitize=thread builds (--config=tsan)"
#endif

namespace {

template <typename Function>
Function Real(const char* name) {
  void* function = dlsym(RTLD_NEXT, name);
  if (function == nullptr) {
    std::fprintf(stderr, "grpc_tsan_annotations: %s not found in gRPC\n", name);
    std::abort();
  }
  return reinterpret_cast<Function>(function);
}

void AcquireCompleted(const grpc_event& event) {
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
}

// What every call's release and a server's destruction synchronise on.
char g_calls_released;

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static const auto real =
      Real<grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*)>(
          "grpc_call_start_batch");
  __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                         grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification,
                                         void* tag_new) {
  static const auto real =
      Real<grpc_call_error (*)(grpc_server*, grpc_call**, grpc_call_details*,
                               grpc_metadata_array*, grpc_completion_queue*,
                               grpc_completion_queue*, void*)>("grpc_server_request_call");
  __tsan_release(tag_new);
  return real(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification,
              tag_new);
}

grpc_call_error grpc_server_request_registered_call(
    grpc_server* server, void* registered_method, grpc_call** call, gpr_timespec* deadline,
    grpc_metadata_array* request_metadata, grpc_byte_buffer** optional_payload,
    grpc_completion_queue* cq_bound_to_call, grpc_completion_queue* cq_for_notification,
    void* tag_new) {
  static const auto real =
      Real<grpc_call_error (*)(grpc_server*, void*, grpc_call**, gpr_timespec*,
                               grpc_metadata_array*, grpc_byte_buffer**, grpc_completion_queue*,
                               grpc_completion_queue*, void*)>(
          "grpc_server_request_registered_call");
  __tsan_release(tag_new);
  return real(server, registered_method, call, deadline, request_metadata, optional_payload,
              cq_bound_to_call, cq_for_notification, tag_new);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static const auto real =
      Real<grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*)>(
          "grpc_completion_queue_next");
  const grpc_event event = real(cq, deadline, reserved);
  AcquireCompleted(event);
  return event;
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag,
                                       gpr_timespec deadline, void* reserved) {
  static const auto real =
      Real<grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec, void*)>(
          "grpc_completion_queue_pluck");
  const grpc_event event = real(cq, tag, deadline, reserved);
  AcquireCompleted(event);
  return event;
}

void grpc_call_unref(grpc_call* call) {
  static const auto real = Real<void (*)(grpc_call*)>("grpc_call_unref");
  __tsan_release(&g_calls_released);
  real(call);
}

void grpc_server_destroy(grpc_server* server) {
  static const auto real = Real<void (*)(grpc_server*)>("grpc_server_destroy");
  __tsan_acquire(&g_calls_released);
  real(server);
}

}  // extern "C"
