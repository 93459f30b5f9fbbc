package testlab

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metric returns the value of the first sample of name whose labels
// include labels (name, value, name, value...), and whether there was one.
// A histogram's value is its sample count.
func Metric(t TB, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	var v float64
	found := false
	each(t, g, name, labels, func(m *dto.Metric) bool {
		v, found = value(m), true
		return false
	})
	return v, found
}

// MetricSum adds every sample of name whose labels include labels.
func MetricSum(t TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	sum := 0.0
	each(t, g, name, labels, func(m *dto.Metric) bool {
		sum += value(m)
		return true
	})
	return sum
}

// each calls f on every sample of name matching labels until f says stop.
func each(t TB, g prometheus.Gatherer, name string, labels []string, f func(*dto.Metric) bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if !f(m) {
				return
			}
		}
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
