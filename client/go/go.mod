// The Go client of cellgw. Built offline against Debian's Go packages: build.sh generates
// the stubs into cellgwv1/ and links vendor/ to Debian's sources in /usr/share/gocode/src
// (see README.md), so the versions below are the ones Debian 12 ships.
module cellgw/client/go

go 1.19

require (
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
