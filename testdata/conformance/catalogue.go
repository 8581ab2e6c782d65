// Package catalogue holds the conformance cases of cmd/fawkes-conform, one
// file per area (*.cases), embedded so that the tool runs anywhere. The
// format is described in docs/conformance.md.
package catalogue

import "embed"

// Files holds every *.cases file of this directory.
//
//go:embed *.cases
var Files embed.FS
