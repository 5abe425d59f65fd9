package pullserver

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fwgit/fwgit/internal/agentapi"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// BenchmarkFanout measures the time from a publish of new desired
// rulesets to 200 long-polling agents (each on its own mutual-TLS
// connection) until every one of them has its answer.
func BenchmarkFanout(b *testing.B) {
	const agents = 200
	f := start(b, Options{Wait: time.Minute})
	names := make([]string, agents)
	clients := make([]*http.Client, agents)
	digests := make([]string, agents)
	for i := range agents {
		names[i] = fmt.Sprintf("fw-%03d", i)
		digests[i] = f.policy.set(names[i], v1.AgentPull, 1)
		clients[i] = f.client(b, clientCert(b, f.ca, names[i]))
		// Open the connection before timing.
		if _, err := get(b, clients[i], f.url+agentapi.DesiredPath(names[i]), "", 0); err != nil {
			b.Fatal(err)
		}
	}
	port := uint16(1)
	for b.Loop() {
		b.StopTimer()
		var wg sync.WaitGroup
		errs := make(chan error, agents)
		for i := range agents {
			wg.Go(func() {
				a, err := get(b, clients[i], f.url+agentapi.DesiredPath(names[i]), digests[i], 1)
				switch {
				case err != nil:
					errs <- err
				case a.code != http.StatusOK:
					errs <- fmt.Errorf("%s: %d", names[i], a.code)
				default:
					digests[i] = a.req.Digest
				}
			})
		}
		for _, n := range names {
			waitFor(b, func() bool { return f.srv.notify.waiting(n) })
		}
		port++
		for _, n := range names {
			f.policy.set(n, v1.AgentPull, port)
		}
		b.StartTimer()
		f.srv.Publish()
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
