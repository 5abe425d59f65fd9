package agentconfig

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const goodKey = "0123456789abcdef0123456789abcdef0123456789a"

func TestLoadPrecedence(t *testing.T) {
	file := `# fwgit-agent settings
LISTEN=:4443
API_KEY="` + goodKey + `"
export ALLOWED_IPS=198.18.0.1, 198.18.1.0/24 ,fd00::/64
; comment
MGMT_CIDRS='198.19.0.0/16'
DRIFT_MODE=report
DRIFT_INTERVAL=1m
TABLE=fwgit
`
	env := map[string]string{"DRIFT_MODE": "repair", "LOG_LEVEL": "debug", "UNRELATED": "x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := Load(Sources{
		EnvFile: strings.NewReader(file), FileName: "agent.env",
		LookupEnv: lookup,
		Flags:     map[string]string{"LISTEN": "127.0.0.1:5555", "TABLE": "other"},
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Default()
	want.Listen = "127.0.0.1:5555" // flag beats file
	want.APIKey = goodKey
	want.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("198.18.0.1/32"), netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("fd00::/64")}
	want.MgmtCIDRs = []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}
	want.DriftMode = DriftRepair // environment beats file
	want.DriftInterval = time.Minute
	want.Table = "other"
	want.LogLevel = slog.LevelDebug
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
	if p, err := got.Port(); err != nil || p != 5555 {
		t.Errorf("Port() = %d, %v, want 5555", p, err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, file string
		flags      map[string]string
		want       string
	}{
		{"no equals", "LISTEN\n", nil, "agent.env:1: want KEY=VALUE"},
		{"unknown key", "\n\nFOO=1\n", nil, "agent.env:3: agentconfig: unknown setting FOO"},
		{"bad cidr", "ALLOWED_IPS=198.18.0.1/24\n", nil, `agent.env:1: ALLOWED_IPS: "198.18.0.1/24" has host bits set (did you mean 198.18.0.0/24?)`},
		{"not an address", "MGMT_CIDRS=ssh.example\n", nil, `agent.env:1: MGMT_CIDRS: "ssh.example" is not an address or CIDR`},
		{"unterminated quote", "API_KEY=\"abc\n", nil, "agent.env:1: API_KEY: unterminated quote"},
		{"bad duration flag", "", map[string]string{"DRIFT_INTERVAL": "soon"}, `--drift-interval: DRIFT_INTERVAL: time: invalid duration "soon"`},
		{"bad level", "LOG_LEVEL=loud\n", nil, `agent.env:1: LOG_LEVEL: unknown level "loud" (want debug, info, warn or error)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Sources{EnvFile: strings.NewReader(tc.file), FileName: "agent.env", Flags: tc.flags})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Load() error = %v, want %q", err, tc.want)
			}
		})
	}
	_, err := Load(Sources{Flags: map[string]string{"NOPE": "1"}})
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Load(unknown flag) = %v, want ErrUnknownKey", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		c := Default()
		c.APIKey = goodKey
		c.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		return c
	}
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // each must appear in the error
	}{
		{"valid", func(*Config) {}, nil},
		{"drift off", func(c *Config) { c.DriftInterval = 0 }, nil},
		{"no key", func(c *Config) { c.APIKey = "" }, []string{"API_KEY: not set"}},
		{"short key", func(c *Config) { c.APIKey = "hunter2hunter2" }, []string{"API_KEY: too short (14 characters, need at least 32)"}},
		{"no allowed ips", func(c *Config) { c.AllowedIPs = nil }, []string{"ALLOWED_IPS: empty"}},
		{"bad listen", func(c *Config) { c.Listen = "33033" }, []string{`LISTEN: "33033" is not host:port`}},
		{"port zero", func(c *Config) { c.Listen = ":0" }, []string{`LISTEN: ":0" has no valid port`}},
		{"drift mode", func(c *Config) { c.DriftMode = "ignore" }, []string{`DRIFT_MODE: "ignore" is not repair or report`}},
		{"drift interval", func(c *Config) { c.DriftInterval = time.Millisecond }, []string{"DRIFT_INTERVAL: 1ms is below 1s"}},
		{"table", func(c *Config) { c.Table = "fw git" }, []string{`TABLE: "fw git" is not a valid table name`}},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, []string{`LOG_FORMAT: "xml" is not json or text`}},
		{"all at once", func(c *Config) { c.APIKey = ""; c.AllowedIPs = nil; c.StateDir = "" }, []string{"API_KEY", "ALLOWED_IPS", "STATE_DIR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.modify(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"127.0.0.1", []string{"127.0.0.1/32"}},
		{"::1 , fd00::/8", []string{"::1/128", "fd00::/8"}},
		{"::ffff:198.18.0.7", []string{"198.18.0.7/32"}},
		{"::ffff:198.18.0.0/112", []string{"198.18.0.0/16"}},
		{"0.0.0.0/0,::/0", []string{"0.0.0.0/0", "::/0"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ps, err := ParsePrefixes(tc.in)
			if err != nil {
				t.Fatalf("ParsePrefixes(%q): %v", tc.in, err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParsePrefixes(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	if _, err := ParsePrefixes("fe80::1%eth0"); err == nil {
		t.Errorf("ParsePrefixes(zone) = nil error, want one")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := Default()
	c.APIKey = goodKey
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", "config", c, "key", c.APIKey)
	for _, s := range []string{buf.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c.APIKey)} {
		if strings.Contains(s, goodKey) {
			t.Errorf("secret printed: %s", s)
		}
	}
	if !strings.Contains(buf.String(), redacted) {
		t.Errorf("log %s does not show the redaction placeholder", buf.String())
	}
	if c.APIKey.Reveal() != goodKey {
		t.Errorf("Reveal() = %q, want the key", c.APIKey.Reveal())
	}
}

func TestEnvFileRoundTrip(t *testing.T) {
	c := Default()
	c.APIKey = goodKey
	c.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("fd00::1/128")}
	c.MgmtCIDRs = []netip.Prefix{netip.MustParsePrefix("198.19.7.0/24")}
	c.DriftMode = DriftReport
	c.DriftInterval = 0
	c.LogLevel = slog.LevelWarn
	c.LogFormat = "text"
	got, err := Load(Sources{EnvFile: bytes.NewReader(c.EnvFile()), FileName: "agent.env"})
	if err != nil {
		t.Fatalf("Load(EnvFile()): %v", err)
	}
	if diff := cmp.Diff(c, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("EnvFile round trip (-want +got):\n%s", diff)
	}
}
