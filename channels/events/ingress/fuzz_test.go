package ingress_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzIngress sends the ingress requests of any content type, ce-* headers
// (name:value lines) and body: it must answer with one of its statuses and
// a JSON body, never panic.
func FuzzIngress(f *testing.F) {
	f.Add(contentStructured, "", smallEvent)
	f.Add(contentBatch+"; charset=utf-8", "", "["+smallEvent+",{}]")
	f.Add("application/json", "ce-specversion:1.0\nce-id:1\nce-source:/s\nce-type:t\nce-x:caf%C3%A9", `{"a":1}`)
	f.Add("text/plain; charset=us-ascii", "ce-specversion:1.0\nce-id:%zz", "\x01\"")
	f.Add("", "ce-specversion:2.0", "")
	h := costHandler()
	f.Fuzz(func(t *testing.T, contentType, headers, body string) {
		header := http.Header{}
		if contentType != "" {
			header.Set("Content-Type", contentType)
		}
		for line := range strings.SplitSeq(headers, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(strings.ToLower(k), "ce-") {
				header.Add(k, v)
			}
		}
		r, _ := http.NewRequest(http.MethodPost, "/events/lobby", strings.NewReader(body))
		if r == nil {
			return
		}
		r.Header = header
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 202, 400, 413, 415:
		default:
			t.Fatalf("status %d", w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
	})
}
