package agentconfig

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Entry is one KEY=VALUE line of an env file.
type Entry struct {
	Key, Value string
	// Line is the 1-based line number, for error messages.
	Line int
}

// ParseEnv reads an env file in the systemd EnvironmentFile dialect: one
// KEY=VALUE per line, blank lines and lines starting with # or ; ignored, an
// optional "export " prefix, and values optionally in single or double quotes.
// name is used in error messages ("agent.env:3: …"); errors never quote a
// value, which may be a secret.
func ParseEnv(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", name, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("%s:%d: %s: unterminated quote", name, n, k)
			}
			v = v[1 : len(v)-1]
		}
		out = append(out, Entry{Key: k, Value: v, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

// Sources are the places settings come from, lowest precedence first.
type Sources struct {
	// EnvFile is the env file's contents and FileName its name for errors;
	// a nil EnvFile means there is none.
	EnvFile  io.Reader
	FileName string
	// LookupEnv reads the process environment (os.LookupEnv); nil skips it.
	// Variables use the env-file names, so systemd's EnvironmentFile= and
	// Environment= drop-ins work as expected.
	LookupEnv func(string) (string, bool)
	// Flags maps env-file names to the values of the flags the user set.
	Flags map[string]string
}

// Load starts from [Default] and applies the env file, then the process
// environment, then the flags, so that flags win. It does not validate.
func Load(src Sources) (Config, error) {
	c := Default()
	if src.EnvFile != nil {
		entries, err := ParseEnv(src.EnvFile, src.FileName)
		if err != nil {
			return c, err
		}
		for _, e := range entries {
			if err := c.Set(e.Key, e.Value); err != nil {
				return c, fmt.Errorf("%s:%d: %w", src.FileName, e.Line, err)
			}
		}
	}
	keys := Keys()
	if src.LookupEnv != nil {
		for _, k := range keys {
			if v, ok := src.LookupEnv(k.Name); ok {
				if err := c.Set(k.Name, v); err != nil {
					return c, fmt.Errorf("environment: %w", err)
				}
			}
		}
	}
	for _, k := range keys {
		if v, ok := src.Flags[k.Name]; ok {
			if err := c.Set(k.Name, v); err != nil {
				return c, fmt.Errorf("--%s: %w", k.Flag, err)
			}
		}
	}
	for name := range src.Flags {
		if !isKey(name) {
			return c, fmt.Errorf("%w %s", ErrUnknownKey, name)
		}
	}
	return c, nil
}

func isKey(name string) bool {
	for _, k := range Keys() {
		if k.Name == name {
			return true
		}
	}
	return false
}
