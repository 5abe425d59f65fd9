package packaging

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/agent/agentconfig"
)

const unitFile = "fwgit-agent.service"

// verify runs `systemd-analyze verify` on unit text written as
// fwgit-agent.service in a temporary directory, with ExecStart pointing at an
// executable that exists here, and returns what it printed.
func verify(t *testing.T, unit string) (string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit = strings.ReplaceAll(unit, "/usr/bin/fwgit-agent", exe)
	p := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", p).CombinedOutput()
	return string(out), err
}

func TestUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := verify(t, string(unit)); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The lint is not blind: a misspelt directive is reported.
	broken := strings.Replace(string(unit), "ProtectHome=yes", "ProtectHomes=yes", 1)
	if out, _ := verify(t, broken); !strings.Contains(out, "ProtectHomes") {
		t.Errorf("verify of a broken unit printed %q, want the unknown key named", out)
	}
}

// directives returns every Key=Value of a unit, by "Section.Key".
func directives(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestUnitSettings(t *testing.T) {
	d := directives(t, unitFile)
	want := map[string]string{
		"Unit.Wants":                      "network-pre.target",
		"Unit.DefaultDependencies":        "no",
		"Service.Restart":                 "on-failure",
		"Service.EnvironmentFile":         agentconfig.DefaultEnvFile,
		"Service.ExecStart":               "/usr/bin/fwgit-agent run --env-file " + agentconfig.DefaultEnvFile,
		"Service.CapabilityBoundingSet":   "CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"Service.AmbientCapabilities":     "CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.ReadWritePaths":          agentconfig.Default().StateDir,
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"Service.StateDirectory":          filepath.Base(agentconfig.Default().StateDir),
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.SystemCallArchitectures": "native",
		"Service.ProtectKernelModules":    "yes",
		"Service.RestrictSUIDSGID":        "yes",
		"Service.ProtectControlGroups":    "yes",
		"Service.ProtectKernelTunables":   "yes",
		"Service.LockPersonality":         "yes",
		"Service.RestrictNamespaces":      "yes",
		"Service.PrivateDevices":          "yes",
		"Service.ProtectClock":            "yes",
		"Service.ProtectHostname":         "yes",
		"Service.ProtectKernelLogs":       "yes",
		"Service.RestrictRealtime":        "yes",
		"Service.SystemCallErrorNumber":   "EPERM",
		"Service.SystemCallFilter":        "@system-service",
		"Service.StateDirectoryMode":      "0700",
		"Service.UMask":                   "0077",
		"Install.WantedBy":                "sysinit.target",
		"Unit.Before":                     "network-pre.target shutdown.target",
		"Service.Type":                    "simple",
		"Unit.Conflicts":                  "shutdown.target",
		"Unit.After":                      "local-fs.target",
		"Service.KillMode":                "mixed",
		"Service.RestartSec":              "2s",
		"Service.TimeoutStopSec":          "20s",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want exactly %q", k, got, v)
		}
	}
}

func TestEnvExample(t *testing.T) {
	f, err := os.Open("agent.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, err := agentconfig.ParseEnv(f, "agent.env.example")
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, e := range entries {
		got = append(got, e.Key)
	}
	for _, k := range agentconfig.Keys() {
		want = append(want, k.Name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("example documents other settings than the agent has (-want +got):\n%s", diff)
	}
	f.Seek(0, 0)
	cfg, err := agentconfig.Load(agentconfig.Sources{EnvFile: f, FileName: "agent.env.example"})
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	// Only the placeholder key keeps it from being a working configuration.
	cfg.APIKey = agentconfig.Secret(strings.Repeat("k", agentconfig.MinAPIKeyLen))
	if err := cfg.Validate(); err != nil {
		t.Errorf("example with a real key does not validate: %v", err)
	}
}

func TestNFPMFiles(t *testing.T) {
	b, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		for _, prefix := range []string{"- src: ", "postinstall: ", "preremove: "} {
			if v, ok := strings.CutPrefix(line, prefix); ok && strings.HasPrefix(v, "packaging/") {
				srcs = append(srcs, v)
			}
		}
	}
	if len(srcs) < 4 {
		t.Fatalf("found %d packaging sources in nfpm.yaml, want the unit, the example and two scripts", len(srcs))
	}
	for _, s := range srcs {
		p := filepath.Join("..", s)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("nfpm.yaml names %s: %v", s, err)
			continue
		}
		if strings.HasSuffix(s, ".sh") {
			if st.Mode()&0o111 == 0 {
				t.Errorf("%s is not executable", s)
			}
			if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", s, err, out)
			}
		}
	}
}
