package cellgw

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSettingsFromEnvDefaultsAndOverrides(t *testing.T) {
	if got := settingsFrom(func(string) string { return "" }); got != (Settings{Addr: DefaultAddr}) {
		t.Errorf("empty environment: %+v", got)
	}
	env := map[string]string{
		"CELLGW_ADDR": "gw:443", "CELLGW_CA_FILE": "ca.pem", "CELLGW_CERT_FILE": "c.pem",
		"CELLGW_KEY_FILE": "c.key", "CELLGW_TOKEN": "t0ken",
	}
	want := Settings{Addr: "gw:443", CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "c.key", Token: "t0ken"}
	if got := settingsFrom(func(k string) string { return env[k] }); got != want {
		t.Errorf("settingsFrom = %+v, want %+v", got, want)
	}
}

func TestUsesTLSWithAnyFile(t *testing.T) {
	for _, s := range []Settings{{CAFile: "a"}, {CertFile: "b", KeyFile: "c"}} {
		if !s.UsesTLS() {
			t.Errorf("%+v: no TLS", s)
		}
	}
	if (Settings{Addr: "x:1", Token: "t"}).UsesTLS() {
		t.Error("a token alone turned TLS on")
	}
}

func TestDialOptionsRejectBadFiles(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		settings Settings
		want     string
	}{
		{Settings{CAFile: "/nonexistent/ca.pem"}, "CA file"},
		{Settings{CAFile: notPEM}, "no PEM certificate"},
		{Settings{CertFile: "c.pem"}, "both a certificate file and a key file"},
		{Settings{KeyFile: "c.key"}, "both a certificate file and a key file"},
	} {
		if _, err := c.settings.DialOptions(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.settings, err, c.want)
		}
	}
}
