package config

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestAgentURL(t *testing.T) {
	for _, tc := range []struct {
		name, url, listen, want string
		err                     error
	}{
		{name: "explicit", url: "https://fw.example.com:8443/", listen: "0.0.0.0:8443", want: "https://fw.example.com:8443"},
		{name: "from listener", listen: "198.18.0.1:8443", want: "https://198.18.0.1:8443"},
		{name: "unspecified v4", listen: "0.0.0.0:8443", err: ErrNoAgentURL},
		{name: "unspecified v6", listen: "[::]:8443", err: ErrNoAgentURL},
		{name: "no host", listen: ":8443", err: ErrNoAgentURL},
		{name: "no listener", err: ErrNoAgentURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Pull.URL, c.Listen.Agents = tc.url, tc.listen
			got, err := c.AgentURL()
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("AgentURL() = %q, %v, want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestValidatePull(t *testing.T) {
	for _, tc := range []struct {
		name string
		pull Pull
		bad  string
	}{
		{name: "zero"},
		{name: "good", pull: Pull{URL: "https://c.example.com:8443", Wait: Duration(time.Minute), CertificateLifetime: Duration(24 * time.Hour)}},
		{name: "http", pull: Pull{URL: "http://c.example.com"}, bad: "pull.url"},
		{name: "path", pull: Pull{URL: "https://c.example.com/x"}, bad: "pull.url"},
		{name: "long wait", pull: Pull{Wait: Duration(time.Hour)}, bad: "pull.wait"},
		{name: "short lifetime", pull: Pull{CertificateLifetime: Duration(time.Minute)}, bad: "pull.certificateLifetime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Dir, c.StateDir = t.TempDir(), t.TempDir()
			c.Pull = tc.pull
			got := fields(c.Validate())
			var want []string
			if tc.bad != "" {
				want = []string{tc.bad}
			}
			if !slices.Equal(got, want) {
				t.Errorf("Validate() fields = %v, want %v", got, want)
			}
		})
	}
}
