package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestConsoleServesPageAndClient checks the page and its bundled phoenix.js
// are served.
func TestConsoleServesPageAndClient(t *testing.T) {
	srv := httptest.NewServer(consoleHandler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/":            `<script type="module" src="console.js">`,
		"/console.js":  `from "./phoenix.mjs"`,
		"/phoenix.mjs": "var Socket = class",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: status %d, body does not contain %q", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("GET /favicon.ico: %d, want 204 (browsers ask for it; a 404 is a console error)", resp.StatusCode)
	}
}

// TestConsolePhoenixIsCurrent checks the embedded phoenix.mjs is the pinned
// npm package's build (make console-assets refreshes it).
func TestConsolePhoenixIsCurrent(t *testing.T) {
	npm, err := os.ReadFile("../../js-client-tests/node_modules/phoenix/priv/static/phoenix.mjs")
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatal("js-client-tests/node_modules is missing in CI: run make npm")
		}
		t.Skip("SKIPPED: js-client-tests/node_modules not installed; run `make npm` to check the embedded phoenix.mjs")
	}
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := consoleFiles.ReadFile("console/phoenix.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(npm, embedded) {
		t.Fatal("cmd/fawkes/console/phoenix.mjs differs from the npm package: run make console-assets")
	}
}
