package app

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are relay24's Prometheus series, on a registry of the App's own
// (no global registry: two Apps in one test process do not collide).
type metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	b24Requests  *prometheus.CounterVec
	b24Duration  *prometheus.HistogramVec
	// portalRequests counts REST requests per portal (lanes_metrics.go),
	// portalCommands the commands they carried.
	portalRequests *prometheus.CounterVec
	portalCommands *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay24_http_requests_total", Help: "HTTP requests served, by route and status.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "relay24_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		b24Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay24_bitrix_requests_total", Help: "HTTP requests to Bitrix24 portals, by REST method and outcome (ok or error code).",
		}, []string{"method", "outcome"}),
		b24Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "relay24_bitrix_request_duration_seconds", Help: "Latency of requests to Bitrix24 portals.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method"}),
		portalRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay24_portal_requests_total", Help: "HTTP requests to Bitrix24, by portal id and outcome (ok or error code).",
		}, []string{"portal", "outcome"}),
		portalCommands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay24_portal_commands_total", Help: "REST commands in the requests Bitrix24 answered (a batch carries up to 50), by portal id.",
		}, []string{"portal"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.b24Requests, m.b24Duration, m.portalRequests, m.portalCommands,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeB24 is the REST client's hook.
func (m *metrics) observeB24(method, outcome string, took time.Duration) {
	m.b24Requests.WithLabelValues(method, outcome).Inc()
	m.b24Duration.WithLabelValues(method).Observe(took.Seconds())
}

// middleware counts requests by route pattern (not raw path: ids and webhook
// keys would explode the series).
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if err != nil {
			if he, ok := err.(*echo.HTTPError); ok {
				status = he.Code
			}
		}
		m.httpRequests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return err
	}
}
