// Fixture of //tests/layering:layering_self_test: a library that breaks every layering rule
// (it depends on //third_party:grpc, whose link options are gRPC's, and includes a gRPC header).
// Never compiled: the layering tests only read it.
#include <grpcpp/grpcpp.h>
