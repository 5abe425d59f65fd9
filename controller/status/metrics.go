package status

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports a [Store] as Prometheus gauges, computed at scrape time
// so they always agree with /v1/status: fwgit_firewall_in_sync{firewall},
// fwgit_firewalls{condition} and fwgit_last_applied_info{firewall,revision}.
// Label cardinality is bounded by the number of firewalls.
type Collector struct {
	store                      Store
	inSync, count, lastApplied *prometheus.Desc
}

// NewCollector returns a collector over store.
func NewCollector(store Store) *Collector {
	return &Collector{
		store: store,
		inSync: prometheus.NewDesc("fwgit_firewall_in_sync",
			"1 when the firewall's agent reports the desired ruleset digest, else 0.", []string{"firewall"}, nil),
		count: prometheus.NewDesc("fwgit_firewalls",
			"Number of firewalls by headline condition (Ready, NotReady, Stalled, RolledBack, Unreachable, Unknown).", []string{"condition"}, nil),
		lastApplied: prometheus.NewDesc("fwgit_last_applied_info",
			"Always 1; labels name the revision the firewall's agent last reported running.", []string{"firewall", "revision"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inSync
	ch <- c.count
	ch <- c.lastApplied
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	fws, err := c.store.List()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	counts := map[string]int{}
	for _, s := range Summaries {
		counts[s] = 0
	}
	for i := range fws {
		fw := &fws[i]
		counts[fw.Summary()]++
		v := 0.0
		if fw.IsTrue(InSync) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.inSync, prometheus.GaugeValue, v, fw.Name)
		if fw.AppliedRevision != "" {
			ch <- prometheus.MustNewConstMetric(c.lastApplied, prometheus.GaugeValue, 1, fw.Name, fw.AppliedRevision)
		}
	}
	for _, s := range Summaries {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
