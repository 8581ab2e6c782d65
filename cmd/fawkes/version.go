package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release, stamped at build time by make build:
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty)" ./cmd/fawkes
//
// Left empty (go build, go run), buildVersion falls back to what the Go
// toolchain records: the module version, else the VCS revision.
var version string

// buildVersion returns the version of this binary: the stamped one, else
// the module's, else "devel+<revision>" from the VCS stamp, else "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel+" + rev
}

// versionLine is what fawkes --version prints.
func versionLine() string {
	return fmt.Sprintf("fawkes %s (%s %s/%s)", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
