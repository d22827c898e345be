"""cellgw_fuzz_target: one libFuzzer target and the test that replays its seed corpus."""

def cellgw_fuzz_target(name, deps):
    """Declares the fuzz target `name` (source `name`.cc) twice.

    `name`: the libFuzzer binary. It links libFuzzer's main, which only clang has, so it is
    tagged manual and built only with --config=fuzz (tests/fuzz/run_fuzz.sh).
    `name`_corpus_test: the same LLVMFuzzerTestOneInput under a GoogleTest main that runs it on
    every file of corpus/`name`/ and on every prefix of them, with any toolchain and config.

    Args:
      name: the target's name, also its source file's and its corpus directory's.
      deps: the libraries under test.
    """
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = [name + ".cc"],
        linkopts = ["-fsanitize=fuzzer"],
        tags = [
            "fuzz",
            "manual",
        ],
        deps = deps + [
            ":fuzz_check",
            "//third_party:absl",
        ],
    )
    native.cc_test(
        name = name + "_corpus_test",
        srcs = [name + ".cc"],
        args = ["tests/fuzz/corpus/" + name],
        data = native.glob(["corpus/" + name + "/*"]),
        tags = ["fuzz"],
        deps = deps + [
            ":corpus_replay_test_main",
            ":fuzz_check",
            "//third_party:absl",
        ],
    )
