// Package cellgw connects Go programs to a cellgw gateway (oslo.messaging RPC over gRPC) and
// reads the remote exceptions its failed calls carry. The stubs themselves are in
// cellgw/client/go/cellgwv1, generated from proto/cellgw/v1/gateway.proto.
//
// Connection settings come from the same CELLGW_* environment variables and flags in every
// cellgw caller (cellgw-cli, the Go and Node.js examples), see SettingsFromEnv.
package cellgw

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

const (
	// DefaultAddr is the gateway address when neither CELLGW_ADDR nor a flag names one.
	DefaultAddr = "127.0.0.1:50051"
	// DefaultDeadline is how long callers give a request unless told otherwise: a call that
	// waits forever on a lost reply is worse than one that fails.
	DefaultDeadline = 30 * time.Second
)

// The environment variables SettingsFromEnv reads. Empty values count as unset.
const (
	EnvAddr     = "CELLGW_ADDR"
	EnvCAFile   = "CELLGW_CA_FILE"
	EnvCertFile = "CELLGW_CERT_FILE"
	EnvKeyFile  = "CELLGW_KEY_FILE"
	EnvToken    = "CELLGW_TOKEN"
)

// Settings say how to reach a gateway.
type Settings struct {
	// Addr is "host:port".
	Addr string
	// CAFile is a PEM file of the CAs that may sign the gateway's certificate. Any of
	// CAFile, CertFile and KeyFile turns TLS on; without CAFile the system roots are used.
	CAFile string
	// CertFile and KeyFile are the client certificate (chain, leaf first) and its key, for
	// gateways that take client certificates (mutual TLS). Both or neither.
	CertFile string
	KeyFile  string
	// Token is sent as "authorization: Bearer <token>" with every request, also over
	// plaintext (the gateway accepts that and logs a warning; use TLS off loopback).
	Token string
}

// SettingsFromEnv returns DefaultAddr overridden by the CELLGW_* variables that are set.
// Callers then apply their own flags on top, so a flag beats the environment.
func SettingsFromEnv() Settings {
	return settingsFrom(os.Getenv)
}

func settingsFrom(getenv func(string) string) Settings {
	s := Settings{Addr: DefaultAddr}
	for name, field := range map[string]*string{
		EnvAddr: &s.Addr, EnvCAFile: &s.CAFile, EnvCertFile: &s.CertFile,
		EnvKeyFile: &s.KeyFile, EnvToken: &s.Token,
	} {
		if value := getenv(name); value != "" {
			*field = value
		}
	}
	return s
}

// UsesTLS reports whether the settings ask for a TLS connection.
func (s Settings) UsesTLS() bool {
	return s.CAFile != "" || s.CertFile != "" || s.KeyFile != ""
}

// DialOptions turns the settings into gRPC dial options: transport credentials and, with a
// token, per-request credentials. Files are read here, so a bad path fails before dialling.
func (s Settings) DialOptions() ([]grpc.DialOption, error) {
	var opts []grpc.DialOption
	if s.UsesTLS() {
		config, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(config)))
	} else {
		opts = append(opts, grpc.WithInsecure())
	}
	if s.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(s.Token)))
	}
	return opts, nil
}

func (s Settings) tlsConfig() (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", s.CAFile)
		}
		config.RootCAs = roots
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, fmt.Errorf("a client certificate needs both a certificate file and a key file")
	}
	if s.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return config, nil
}

// Dial connects to the gateway the settings describe (lazily, as grpc.Dial does: an
// unreachable gateway shows up as UNAVAILABLE on the first request).
func Dial(s Settings, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts, err := s.DialOptions()
	if err != nil {
		return nil, err
	}
	return grpc.Dial(s.Addr, append(opts, extra...)...)
}

// bearerToken sends "authorization: Bearer <token>", the header the gateway checks.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity is false: the gateway may serve tokens over plaintext on loopback.
func (bearerToken) RequireTransportSecurity() bool { return false }
