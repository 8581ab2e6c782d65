package main

import (
	"embed"
	"io/fs"
	"net/http"
)

// consoleFiles is the live console page served at /. phoenix.mjs is the npm
// package's own build, copied by `make console-assets` from
// js-client-tests/node_modules (a test checks the copy is current).
//
//go:embed console
var consoleFiles embed.FS

// consoleHandler serves the console page and its assets. The page has no
// icon: /favicon.ico answers 204, so browsers log no error for it.
func consoleHandler() http.Handler {
	sub, _ := fs.Sub(consoleFiles, "console") // "console" is embedded above
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			w.Header().Set("Cache-Control", "max-age=86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		files.ServeHTTP(w, r)
	})
}
