package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/fleet"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/netns"
)

// nsDial returns a dial function whose connections belong to ns: the
// socket is made on a thread inside ns and keeps its namespace for life.
func nsDial(ns *netns.NS) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Client talks to the controller's API from inside the controller's
// namespace, so it works whether or not the host can reach the lab.
type Client struct {
	base   string
	secret string
	hc     *http.Client
}

func newClient(ns *netns.NS, base, webhookSecret string) *Client {
	tr := &http.Transport{DialContext: nsDial(ns), MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	return &Client{base: base, secret: webhookSecret, hc: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// Get fetches path and returns the status code and body.
func (c *Client) Get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	return c.do(req)
}

func (c *Client) do(req *http.Request) (int, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, err
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	code, b, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d: %s", path, code, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// Status returns GET /v1/status.
func (c *Client) Status(ctx context.Context) (*api.StatusResponse, error) {
	var st api.StatusResponse
	return &st, c.getJSON(ctx, "/v1/status", &st)
}

// Firewall returns GET /v1/firewalls/{name}: status, ruleset and history.
func (c *Client) Firewall(ctx context.Context, name string) (*api.FirewallResponse, error) {
	var fw api.FirewallResponse
	return &fw, c.getJSON(ctx, "/v1/firewalls/"+url.PathEscape(name), &fw)
}

// Webhook sends a push event to POST /hooks/git, signed with the
// configured secret, so the controller fetches at once.
func (c *Client) Webhook(ctx context.Context) error {
	body := []byte(`{"ref":"refs/heads/main"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/hooks/git", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set(api.HeaderSignature, api.Sign([]byte(c.secret), body))
	code, b, err := c.do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("webhook: %d: %s", code, bytes.TrimSpace(b))
	}
	return nil
}

// agentClient returns an HTTPS client for fw's agent that dials from the
// controller's namespace (so ALLOWED_IPS admits it), pins the agent's
// certificate and opens a new connection for every request.
func (l *Lab) agentClient(fw *Firewall) (*http.Client, error) {
	tc, err := fleet.TLSConfig(fleet.Target{Name: fw.Name, Fingerprint: fw.Fingerprint})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DialContext: nsDial(l.Ctl), TLSClientConfig: tc, DisableKeepAlives: true, TLSHandshakeTimeout: 5 * time.Second}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

func (l *Lab) agentGet(ctx context.Context, fw *Firewall, path string, v any) error {
	hc, err := l.agentClient(fw)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(fw.URL, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set(agentapi.HeaderAPIKey, fw.APIKey)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent %s: GET %s: %d: %s", fw.Name, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// AgentPing calls GET /api/v1/ping on fw's agent.
func (l *Lab) AgentPing(ctx context.Context, fw *Firewall) error {
	var p agentapi.Ping
	return l.agentGet(ctx, fw, "/api/v1/ping", &p)
}

// AgentState returns GET /api/v1/state of fw's agent.
func (l *Lab) AgentState(ctx context.Context, fw *Firewall) (*agentapi.State, error) {
	var st agentapi.State
	return &st, l.agentGet(ctx, fw, "/api/v1/state", &st)
}
