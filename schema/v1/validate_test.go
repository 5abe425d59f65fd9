package v1

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"web-1", true},
		{"db.prod.example", true},
		{"a", true},
		{"9", true},
		{strings.Repeat("a", 253), true},
		{strings.Repeat("a", 254), false},
		{"", false},
		{"Web-1", false},
		{"web_1", false},
		{"-web", false},
		{"web-", false},
		{".web", false},
		{"web 1", false},
		{"wéb", false},
	}
	for _, tc := range tests {
		if err := ValidateName(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestValidateTagName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"role", true},
		{"Role", true},
		{"triton.cns.services", true},
		{"some tag", true},
		{"été", true},
		{"", false},
		{" role", false},
		{"role\n", false},
		{"ro\x01le", false},
		{"\xff", false},
		{strings.Repeat("t", 254), false},
	}
	for _, tc := range tests {
		if err := ValidateTagName(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateTagName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"198.18.0.10", "198.18.0.10"},
		{"fd00::10", "fd00::10"},
		{"FD00::10", "fd00::10"},
		{"fd00:0::1", "fd00::1"},
		{"198.18.0.10/32", ""},
		{"fe80::1%eth0", ""},
		{"::ffff:198.18.0.1", ""},
		{"0.0.0.0", ""},
		{"::", ""},
		{"255.255.255.255", ""},
		{"224.0.0.1", ""},
		{"ff02::1", ""},
		{"010.0.0.1", ""},
		{"198.18.0", ""},
		{"web-1", ""},
		{"", ""},
	}
	for _, tc := range tests {
		a, err := ParseAddress(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseAddress(%q) = %v, want an error", tc.in, a)
		case tc.want != "" && err != nil:
			t.Errorf("ParseAddress(%q) error %v, want %s", tc.in, err, tc.want)
		case tc.want != "" && a.String() != tc.want:
			t.Errorf("ParseAddress(%q) = %v, want %s", tc.in, a, tc.want)
		}
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // substring of the error; "" means valid
	}{
		{"198.18.0.0/15", ""},
		{"198.18.0.2/32", ""},
		{"fd00::2/128", ""},
		{"fd00::/8", ""},
		{"0.0.0.0/0", ""},
		{"198.18.0.1/24", "host bits set; write 198.18.0.0/24"},
		{"fd00::1/64", "host bits set; write fd00::/64"},
		{"198.18.0.2", "no prefix length (for one host write 198.18.0.2/32)"},
		{"fd00::2", "fd00::2/128"},
		{"198.18.0.0/33", "not a valid CIDR"},
		{"::ffff:198.18.0.0/120", "IPv4-mapped"},
		{"x/8", "not a valid CIDR"},
	}
	for _, tc := range tests {
		_, err := ParseCIDR(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseCIDR(%q) error %v, want none", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseCIDR(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	hexLower := strings.Repeat("0123456789abcdef", 4)
	var pairs []string
	for i := 0; i < 64; i += 2 {
		pairs = append(pairs, strings.ToUpper(hexLower[i:i+2]))
	}
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"sha256:" + hexLower, "sha256:" + hexLower},
		{"sha256:" + strings.ToUpper(hexLower), "sha256:" + hexLower},
		{"sha256:" + strings.Join(pairs, ":"), "sha256:" + hexLower},
		{hexLower, ""},
		{"SHA256:" + hexLower, ""},
		{"sha1:" + hexLower, ""},
		{"sha256:" + hexLower[:62], ""},
		{"sha256:" + hexLower + "00", ""},
		{"sha256:" + hexLower[:63] + "g", ""},
		{"sha256:" + strings.Join(pairs, ":")[1:], ""},
		{"sha256:" + strings.Join(pairs, "::"), ""},
	}
	for _, tc := range tests {
		got, err := NormalizeFingerprint(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("NormalizeFingerprint(%q) = %s, want an error", tc.in, got)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("NormalizeFingerprint(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestValidateAgentURL(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"https://198.18.0.10:33033", ""},
		{"https://[fd00::10]:33033", ""},
		{"https://web-1.example.com", ""},
		{"https://web-1.example.com/agent", ""},
		{"http://198.18.0.10:33033", "https://"},
		{"198.18.0.10:33033", "https://"},
		{"https://", "no host"},
		{"https://:33033", "no host"},
		{"https://198.18.0.10:0", "port"},
		{"https://198.18.0.10:70000", "port"},
		{"https://198.18.0.10:", "empty port"},
		{"https://admin:s3cret@198.18.0.10:33033", "credentials"},
		{"https://198.18.0.10/?token=s3cret", "query"},
		{"https://198.18.0.10/#x", "fragment"},
		{"https:198.18.0.10", "https://host"},
	}
	for _, tc := range tests {
		err := ValidateAgentURL(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ValidateAgentURL(%q) error %v, want none", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ValidateAgentURL(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ValidateAgentURL(%q) error %q repeats a secret", tc.in, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	if got := (Agent{URL: "https://x"}).EffectiveMode(); got != AgentPush {
		t.Errorf("EffectiveMode() with a URL = %q, want push", got)
	}
	if got := (Agent{Mode: AgentPull}).EffectiveMode(); got != AgentPull {
		t.Errorf("EffectiveMode() of pull = %q, want pull", got)
	}
	if got := (SettingsSpec{}).EffectiveAgentPort(); got != DefaultAgentPort {
		t.Errorf("EffectiveAgentPort() = %d, want %d", got, DefaultAgentPort)
	}
	if got := (SettingsSpec{AgentPort: 8443}).EffectiveAgentPort(); got != 8443 {
		t.Errorf("EffectiveAgentPort() = %d, want 8443", got)
	}
	if got := (TestCase{}).EffectiveDirection(); got != DirectionIn {
		t.Errorf("EffectiveDirection() = %q, want in", got)
	}
	f := false
	if (FirewallSpec{Enabled: &f}).IsEnabled() || !(FirewallSpec{}).IsEnabled() {
		t.Error("FirewallSpec.IsEnabled ignores its default or its value")
	}
}
