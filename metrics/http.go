package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for Rejected: the values of the reason label of
// bufpool_http_rejections_total.
const (
	// ReasonTooLarge is for a request refused because its body exceeds
	// the limit.
	ReasonTooLarge = "too_large"
	// ReasonTruncated is for a request whose body was truncated or
	// malformed.
	ReasonTruncated = "truncated"
	// ReasonBudget is for a request refused because the pool's in-use
	// budget had no room for its body in time.
	ReasonBudget = "budget"
	// ReasonOther is where Rejected counts any reason it does not know, so
	// that a misspelt reason is visible without creating a series of its own.
	ReasonOther = "other"
)

// HTTP records the bodies that the bodypool HTTP middleware handles:
//
//   - histograms bufpool_http_request_body_bytes and
//     bufpool_http_response_body_bytes of body sizes, with buckets from
//     64 B to 64 MiB, a factor of 4 apart;
//   - counter bufpool_http_responses_total by mode: "buffered" for
//     responses held whole before they were sent, "streamed" for responses
//     passed on as they were written;
//   - counter bufpool_http_rejections_total of refused requests by reason:
//     ReasonTooLarge, ReasonTruncated, ReasonBudget, or ReasonOther for any
//     other.
//
// Every mode and reason is reported from the first scrape on, at zero.
//
// Its methods RequestBody, ResponseBody and Rejected are what the
// middleware calls per request; they neither allocate nor look up labels.
// An HTTP is also the prometheus.Collector of its metrics. It is safe for
// concurrent use by multiple goroutines.
type HTTP struct {
	requestBytes, responseBytes prometheus.Histogram
	responses, rejections       *prometheus.CounterVec

	// The children of the vectors, resolved once so that the per-request
	// methods neither hash label values nor allocate.
	buffered, streamed                 prometheus.Counter
	tooLarge, truncated, budget, other prometheus.Counter
}

// NewHTTP returns an HTTP whose metrics are registered on reg, or not
// registered at all when reg is nil (an HTTP is a prometheus.Collector, to
// be registered later).
//
// The metric names are fixed, so one registry takes one HTTP: a second
// NewHTTP on the same registry returns an error wrapping
// prometheus.AlreadyRegisteredError, whose ExistingCollector is the first
// HTTP, for sharing. To tell several servers of a process apart, give each
// its own labels with prometheus.WrapRegistererWith.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	h := newHTTP()
	if reg != nil {
		if err := reg.Register(h); err != nil {
			return nil, fmt.Errorf("metrics: registering the HTTP metrics: %w", err)
		}
	}
	return h, nil
}

// MustNewHTTP is like NewHTTP but panics if the metrics cannot be
// registered.
func MustNewHTTP(reg prometheus.Registerer) *HTTP {
	h, err := NewHTTP(reg)
	if err != nil {
		panic(err)
	}
	return h
}

func newHTTP() *HTTP {
	h := &HTTP{
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
	h.tooLarge = h.rejections.WithLabelValues(ReasonTooLarge)
	h.truncated = h.rejections.WithLabelValues(ReasonTruncated)
	h.budget = h.rejections.WithLabelValues(ReasonBudget)
	h.other = h.rejections.WithLabelValues(ReasonOther)
	return h
}

// bodyBuckets returns the upper bounds of the body size histograms: 64 B,
// 256 B, 1 KiB, ..., 64 MiB, covering the pool's classes (512 B to 4 MiB by
// default) and the oversize bodies beyond them.
func bodyBuckets() []float64 { return prometheus.ExponentialBuckets(64, 4, 11) }

// RequestBody records a request body of n bytes.
func (h *HTTP) RequestBody(n int) {
	// A negative n, which no body has, counts as 0: the histogram's sum
	// must never decrease.
	h.requestBytes.Observe(float64(max(n, 0)))
}

// ResponseBody records a response body of n bytes, streamed to the client
// as it was written, or else buffered whole before it was sent.
func (h *HTTP) ResponseBody(n int, streamed bool) {
	h.responseBytes.Observe(float64(max(n, 0)))
	if streamed {
		h.streamed.Inc()
	} else {
		h.buffered.Inc()
	}
}

// Rejected records a request refused for reason: ReasonTooLarge,
// ReasonTruncated or ReasonBudget, the reasons of the middleware package.
// Any other reason is counted as ReasonOther.
func (h *HTTP) Rejected(reason string) {
	switch reason {
	case ReasonTooLarge:
		h.tooLarge.Inc()
	case ReasonTruncated:
		h.truncated.Inc()
	case ReasonBudget:
		h.budget.Inc()
	default:
		h.other.Inc()
	}
}

// Describe sends the descriptors of the HTTP metrics.
func (h *HTTP) Describe(ch chan<- *prometheus.Desc) {
	h.requestBytes.Describe(ch)
	h.responseBytes.Describe(ch)
	h.responses.Describe(ch)
	h.rejections.Describe(ch)
}

// Collect sends the current values of the HTTP metrics.
func (h *HTTP) Collect(ch chan<- prometheus.Metric) {
	h.requestBytes.Collect(ch)
	h.responseBytes.Collect(ch)
	h.responses.Collect(ch)
	h.rejections.Collect(ch)
}
