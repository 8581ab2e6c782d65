package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	catalogue "github.com/fawkes-rt/fawkes/testdata/conformance"
)

// loadCatalogue reads every *.cases file of dir, or of the embedded
// catalogue when dir is "".
func loadCatalogue(dir string) ([]*Case, error) {
	var fsys fs.FS = catalogue.Files
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	names, err := fs.Glob(fsys, "*.cases")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.cases files in %s", dirName(dir))
	}
	sort.Strings(names)
	var all []*Case
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		cases, err := parseCases(path.Join(dirName(dir), name), strings.TrimSuffix(name, ".cases"), f)
		_ = f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, cases...)
	}
	return all, nil
}

func dirName(dir string) string {
	if dir == "" {
		return "testdata/conformance"
	}
	return dir
}

// selection says which cases of the catalogue run.
type selection struct {
	groups  map[string]bool // nil: every group
	run     *regexp.Regexp  // nil: every case
	tags    []string        // wanted tags (any of them); empty: every case
	notTags []string        // excluded tags
	phoenix *version        // nil: every release
}

// parseTags reads "a,b,!c": cases with tag a or b, and not c.
func (s *selection) parseTags(expr string) {
	for _, t := range strings.Split(expr, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
		case strings.HasPrefix(t, "!"), strings.HasPrefix(t, "-"):
			s.notTags = append(s.notTags, t[1:])
		default:
			s.tags = append(s.tags, t)
		}
	}
}

// selected reports whether c is in the selection; when it is not, why
// (for cases shown as skipped), or "" for cases left out of the report.
func (s *selection) selected(c *Case) (bool, string) {
	if s.groups != nil && !s.groups[c.Group] {
		return false, ""
	}
	if s.run != nil && !s.run.MatchString(c.ID()) {
		return false, ""
	}
	if len(s.tags) > 0 && !hasAny(c.Tags, s.tags) {
		return false, ""
	}
	if hasAny(c.Tags, s.notTags) {
		return false, ""
	}
	if s.phoenix != nil {
		since := make([]version, len(c.Since))
		for i, v := range c.Since {
			since[i], _ = parseVersion(v)
		}
		if !hasBehaviour(*s.phoenix, since) {
			return false, "since Phoenix " + strings.Join(c.Since, ", ") + ", newer than -phoenix " + s.phoenix.String()
		}
	}
	return true, ""
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}
