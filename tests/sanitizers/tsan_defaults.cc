// Runtime defaults for --config=tsan (tests/sanitizers). TSAN_OPTIONS still overrides them.

// ignore_noninstrumented_modules: TSan's interceptors (memcpy, memmove, free, operator
// delete...) check the accesses they make whoever calls them. Called from Debian's gRPC,
// protobuf and Abseil, which are not instrumented, they race-check memory whose
// synchronisation TSan never saw (gRPC's lock-free queues and arenas use uninstrumented
// atomics): hundreds of reports per test, none in our code. With this flag only calls from
// instrumented code (cellgw, and the gRPC/protobuf header code compiled into it) are checked.
// Races between two accesses in cellgw code are still reported; a race between cellgw code and
// the inside of gRPC is not (it never was visible: gRPC's own accesses are not instrumented).
// halt_on_error=0: keep running after a report (the process exits 66 at the end, which fails
// the test), so one run shows every race. second_deadlock_stack: both stacks of a lock-order
// report.
extern "C" __attribute__((visibility("default"), used)) const char* __tsan_default_options() {
  return "ignore_noninstrumented_modules=1:halt_on_error=0:second_deadlock_stack=1";
}
