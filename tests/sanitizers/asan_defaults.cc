// Runtime defaults for --config=asan (tests/sanitizers). The sanitizer runtimes call these hooks
// before main; options given in ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS still override them.

// check_initialization_order/strict_init_order: catch static-initialisation-order bugs between
// our libraries. detect_stack_use_after_return: catch use of a dead stack frame (lambdas and
// callbacks that outlive the frame they captured). Exit code 1 with the report is the default.
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1";
}

// A report is a failure (with -fno-sanitize-recover it aborts anyway); the stack says where.
extern "C" __attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1";
}
