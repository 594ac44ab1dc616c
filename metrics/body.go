package metrics

import (
	"github.com/bodypool/bodypool/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// reasonOther is where Rejected counts any reason the middleware does not
// document, so that a misspelt reason is visible without a series of its
// own.
const reasonOther = "other"

// BodyCollector records the bodies that the bodypool middleware handles:
// set it as the Observer of middleware.Config, and register it as a
// prometheus.Collector, as a pool's collector is registered. Its metrics:
//
//   - histograms bufpool_http_request_body_bytes and
//     bufpool_http_response_body_bytes of body sizes, with buckets from
//     64 B to 64 MiB, a factor of 4 apart;
//   - counter bufpool_http_responses_total by mode: "buffered" for
//     responses held whole before they were sent, "streamed" for responses
//     passed on as they were written;
//   - counter bufpool_http_rejections_total of refused requests by reason:
//     middleware.ReasonTooLarge, ReasonTruncated and ReasonBudget, or
//     "other" for a reason the middleware does not document.
//
// Every mode and reason is reported from the first scrape on, at zero.
//
// The metric names are fixed, so a registry takes one BodyCollector:
// registering a second returns prometheus.AlreadyRegisteredError. To tell
// several servers of a process apart, register each with its own labels
// through prometheus.WrapRegistererWith.
//
// Its methods RequestBody, ResponseBody and Rejected are what the
// middleware calls per request; they neither allocate nor look up labels.
// It is safe for concurrent use by multiple goroutines.
type BodyCollector struct {
	requestBytes, responseBytes prometheus.Histogram
	responses, rejections       *prometheus.CounterVec

	// The children of the vectors, resolved once so that the per-request
	// methods neither hash label values nor allocate.
	buffered, streamed                 prometheus.Counter
	tooLarge, truncated, budget, other prometheus.Counter
}

var _ middleware.Observer = (*BodyCollector)(nil)

// NewBodyCollector returns a BodyCollector with every series at zero.
func NewBodyCollector() *BodyCollector {
	h := &BodyCollector{
		requestBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bufpool_http_request_body_bytes",
			Help:    "Sizes of the request bodies read by the middleware.",
			Buckets: bodyBuckets(),
		}),
		responseBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bufpool_http_response_body_bytes",
			Help:    "Sizes of the response bodies written through the middleware.",
			Buckets: bodyBuckets(),
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bufpool_http_responses_total",
			Help: "Responses by mode: buffered whole, or streamed as written.",
		}, []string{"mode"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bufpool_http_rejections_total",
			Help: "Requests refused by the middleware, by reason.",
		}, []string{"reason"}),
	}
	h.buffered = h.responses.WithLabelValues("buffered")
	h.streamed = h.responses.WithLabelValues("streamed")
	h.tooLarge = h.rejections.WithLabelValues(middleware.ReasonTooLarge)
	h.truncated = h.rejections.WithLabelValues(middleware.ReasonTruncated)
	h.budget = h.rejections.WithLabelValues(middleware.ReasonBudget)
	h.other = h.rejections.WithLabelValues(reasonOther)
	return h
}

// bodyBuckets returns the upper bounds of the body size histograms: 64 B,
// 256 B, 1 KiB, ..., 64 MiB, covering the pool's classes (512 B to 4 MiB by
// default) and the oversize bodies beyond them.
func bodyBuckets() []float64 { return prometheus.ExponentialBuckets(64, 4, 11) }

// RequestBody records a request body of n bytes.
func (h *BodyCollector) RequestBody(n int) {
	// A negative n, which no body has, counts as 0: the histogram's sum
	// must never decrease.
	h.requestBytes.Observe(float64(max(n, 0)))
}

// ResponseBody records a response body of n bytes, streamed to the client
// as it was written, or else buffered whole before it was sent.
func (h *BodyCollector) ResponseBody(n int, streamed bool) {
	h.responseBytes.Observe(float64(max(n, 0)))
	if streamed {
		h.streamed.Inc()
	} else {
		h.buffered.Inc()
	}
}

// Rejected records a request refused for reason: one of the middleware's
// Reason constants. Any other reason is counted as "other".
func (h *BodyCollector) Rejected(reason string) {
	switch reason {
	case middleware.ReasonTooLarge:
		h.tooLarge.Inc()
	case middleware.ReasonTruncated:
		h.truncated.Inc()
	case middleware.ReasonBudget:
		h.budget.Inc()
	default:
		h.other.Inc()
	}
}

// Describe sends the descriptors of the body metrics.
func (h *BodyCollector) Describe(ch chan<- *prometheus.Desc) {
	h.requestBytes.Describe(ch)
	h.responseBytes.Describe(ch)
	h.responses.Describe(ch)
	h.rejections.Describe(ch)
}

// Collect sends the current values of the body metrics.
func (h *BodyCollector) Collect(ch chan<- prometheus.Metric) {
	h.requestBytes.Collect(ch)
	h.responseBytes.Collect(ch)
	h.responses.Collect(ch)
	h.rejections.Collect(ch)
}
