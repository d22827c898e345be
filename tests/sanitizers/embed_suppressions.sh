#!/bin/sh
# Writes a C++ file defining `extern "C" const char* <hook>()` that returns the text of the
# suppressions file <file>, for tests/sanitizers/BUILD.bazel.
#   embed_suppressions.sh <hook> <file>
set -eu
hook=$1
file=$2
if grep -q ')supp"' "$file"; then
  echo "embed_suppressions.sh: $file contains the raw-string delimiter" >&2
  exit 1
fi
printf '// Generated from %s by embed_suppressions.sh.\n' "$file"
printf 'extern "C" __attribute__((visibility("default"), used)) const char* %s() {\n' "$hook"
printf '  return R"supp('
cat "$file"
printf ')supp";\n}\n'
