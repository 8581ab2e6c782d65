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

// consoleHandler serves the console page and its assets.
func consoleHandler() http.Handler {
	sub, _ := fs.Sub(consoleFiles, "console") // "console" is embedded above
	return http.FileServerFS(sub)
}
