package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
)

// newStatusCmd is `fwgit status`: the controller's view of every firewall.
func newStatusCmd() *cobra.Command {
	var url, tokenFile, format string
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every firewall's condition, revision and digest as the controller sees them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageError{fmt.Errorf("status: --format must be table or json, not %q", format)}
			}
			var token config.Secret
			if tokenFile != "" {
				var err error
				if token, err = config.ReadSecret(tokenFile); err != nil {
					return fmt.Errorf("status: --token-file: %w", err)
				}
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			for {
				st, err := fetchStatus(ctx, strings.TrimSuffix(url, "/"), token)
				if err != nil {
					if watch && ctx.Err() != nil {
						return nil
					}
					return err
				}
				if watch {
					fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear screen
				}
				if format == "json" {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					if err := enc.Encode(st); err != nil {
						return err
					}
				} else if err := writeStatusTable(out, st, time.Now()); err != nil {
					return err
				}
				if !watch {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	cmd.Flags().StringVar(&url, "controller", "http://127.0.0.1:8080", "controller API base URL")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the API's bearer token")
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "refresh interval with --watch")
	return cmd
}

// statusClient asks the controller for its status. It follows no redirect:
// the request carries the bearer token, and net/http would forward it to a
// redirect target on the same host name (another port, or plain http).
var statusClient = &http.Client{
	Timeout: 15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("the controller answered with a redirect; give its API URL with --controller")
	},
}

func fetchStatus(ctx context.Context, base string, token config.Secret) (*api.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/status", nil)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	if !token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status: asking the controller: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("status: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, errors.New("status: the controller wants a bearer token (--token-file)")
		}
		return nil, fmt.Errorf("status: controller answered %s: %s", resp.Status, e.Message)
	}
	var st api.StatusResponse
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("status: decoding answer: %w", err)
	}
	return &st, nil
}

// writeStatusTable prints the revision line and one row per firewall, like
// `flux get`.
func writeStatusTable(w io.Writer, st *api.StatusResponse, now time.Time) error {
	rev := st.Revision
	fmt.Fprintf(w, "revision %s", orDash(rev.LastGood))
	if rev.Current != "" && rev.Current != rev.LastGood {
		fmt.Fprintf(w, " (newest %s refused: %d errors)", rev.Current, rev.Errors)
	}
	fmt.Fprintln(w)
	for i, d := range rev.Diagnostics {
		if i == 5 {
			fmt.Fprintf(w, "  … %d more\n", len(rev.Diagnostics)-5+rev.Omitted)
			break
		}
		if !rev.Valid {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCONDITION\tREVISION\tDIGEST\tAPPLIED\tAGE\tMESSAGE")
	for _, f := range st.Firewalls {
		applied := shortDigest(f.AppliedDigest)
		if f.AppliedDigest == f.DesiredDigest && f.AppliedDigest != "" {
			applied = "="
		}
		msg := f.Message
		if f.Reason != "" && msg != "" {
			msg = f.Reason + ": " + msg
		} else if f.Reason != "" {
			msg = f.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Condition, shortRevision(f.DesiredRevision),
			shortDigest(f.DesiredDigest), applied, age(f.Since, now), truncateMsg(msg, 100))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortRevision turns main@sha1:<40 hex> into main@sha1:<12 hex>.
func shortRevision(r string) string {
	if i := strings.LastIndex(r, ":"); i >= 0 && len(r)-i-1 > 12 {
		return r[:i+13]
	}
	return orDash(r)
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return orDash(d)
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func truncateMsg(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
