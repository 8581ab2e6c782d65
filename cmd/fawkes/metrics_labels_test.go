package main

import (
	"context"
	"testing"

	"github.com/fawkes-rt/fawkes/server"
)

// Every close reason, join status and transport the server defines has its
// series on /metrics before any traffic, spelled as the server's typed
// constants spell it, and no other label value appears.
func TestMetricsLabelsFromServerTypes(t *testing.T) {
	ep := server.New(server.Config{})
	t.Cleanup(func() { _ = ep.Shutdown(context.Background()) })
	m := newMetrics()
	m.observeEndpoint(ep)
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{} // family -> label values
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if labels[f.GetName()] == nil {
					labels[f.GetName()] = map[string]bool{}
				}
				labels[f.GetName()][l.GetValue()] = true
			}
		}
	}
	want := map[string][]string{}
	for _, r := range server.CloseReasons() {
		want["fawkes_connections_closed_total"] = append(want["fawkes_connections_closed_total"], r.String())
	}
	for _, s := range server.JoinStatuses() {
		want["fawkes_joins_total"] = append(want["fawkes_joins_total"], s.String())
	}
	for _, tr := range server.Transports() {
		for _, name := range []string{"fawkes_connections", "fawkes_messages_received_total", "fawkes_messages_sent_total"} {
			want[name] = append(want[name], string(tr))
		}
	}
	for name, values := range want {
		for _, v := range values {
			if !labels[name][v] {
				t.Errorf("%s has no series %q", name, v)
			}
		}
		if len(labels[name]) != len(values) {
			t.Errorf("%s has label values %v, want exactly %v", name, labels[name], values)
		}
	}
}
