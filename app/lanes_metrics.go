package app

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relay24/relay24/jobs"
)

// portalQueue reports, at each scrape, every portal's lane of the job queue:
// how many of its jobs are due and waiting, and how long the oldest has
// waited (one grouped query over the due jobs).
type portalQueue struct {
	q      *jobs.Queue
	depth  *prometheus.Desc
	oldest *prometheus.Desc
}

func newPortalQueue(q *jobs.Queue) *portalQueue {
	return &portalQueue{q: q,
		depth: prometheus.NewDesc("relay24_portal_jobs_waiting",
			"Due jobs of a portal waiting for a worker (ready, run_at passed), by portal id.", []string{"portal"}, nil),
		oldest: prometheus.NewDesc("relay24_portal_oldest_job_wait_seconds",
			"How long the portal's oldest due job has been waiting, by portal id.", []string{"portal"}, nil),
	}
}

func (c *portalQueue) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

func (c *portalQueue) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.q.Backlogs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
		return
	}
	for _, r := range rows {
		p := strconv.FormatInt(r.PortalID, 10)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(r.Waiting), p)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, max(r.OldestS, 0), p)
	}
}

// observePortal counts the REST requests per portal and outcome.
func (m *metrics) observePortal(portalID int64, _, outcome string, _ time.Duration) {
	m.portalRequests.WithLabelValues(strconv.FormatInt(portalID, 10), outcome).Inc()
}

// commandsPortal counts the REST commands per portal.
func (m *metrics) commandsPortal(portalID int64, n int) {
	m.portalCommands.WithLabelValues(strconv.FormatInt(portalID, 10)).Add(float64(n))
}
