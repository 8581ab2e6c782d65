package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Patterns are JSON values compared with what the server sent, as JSON (key
// order never matters). Inside a pattern:
//
//	"<any>"        any value             "<string>"    any string
//	"<nonempty>"   a non-empty string    "<number>"    any number
//	"<timestamp>"  an RFC 3339 string
//
// each optionally capturing the value into a variable: "<string:token>"
// (then $token in later lines). An object matches only with exactly the
// pattern's keys, unless the pattern has the key "..." (its value is
// ignored); a key "<any>" or "<any:name>" stands for one key not named in
// the pattern. A string that holds JSON (a LongPoll message) matches an
// array or object pattern when its decoded value does.

// mismatch is the first difference between a pattern and a value.
type mismatch struct {
	path     string // "" for the whole value
	expected string
	got      string
}

func (m *mismatch) String() string {
	where := ""
	if m.path != "" {
		where = "at " + m.path + ": "
	}
	return where + "expected " + m.expected + ", got " + m.got
}

// decodeJSON decodes raw into generic values.
func decodeJSON(raw []byte) (any, error) {
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}

// matchJSON compares got with pattern. On success the captures are added
// to captured.
func matchJSON(pattern, got any, captured vars) *mismatch {
	local := vars{}
	if m := matchValue("", pattern, got, local); m != nil {
		return m
	}
	for k, v := range local {
		captured[k] = v
	}
	return nil
}

func matchValue(path string, pattern, got any, captured vars) *mismatch {
	switch p := pattern.(type) {
	case string:
		if kind, name, ok := placeholder(p); ok {
			return matchPlaceholder(path, p, kind, name, got, captured)
		}
		if g, ok := got.(string); ok && g == p {
			return nil
		}
	case map[string]any:
		if s, ok := got.(string); ok {
			if v, err := decodeJSON([]byte(s)); err == nil {
				if _, isObj := v.(map[string]any); isObj {
					return matchValue(path, pattern, v, captured)
				}
			}
		}
		if g, ok := got.(map[string]any); ok {
			return matchObject(path, p, g, captured)
		}
	case []any:
		if s, ok := got.(string); ok {
			if v, err := decodeJSON([]byte(s)); err == nil {
				if _, isArr := v.([]any); isArr {
					return matchValue(path, pattern, v, captured)
				}
			}
		}
		if g, ok := got.([]any); ok {
			if len(g) != len(p) {
				return &mismatch{path, fmt.Sprintf("%d elements %s", len(p), render(p)), fmt.Sprintf("%d: %s", len(g), render(g))}
			}
			for i := range p {
				if m := matchValue(fmt.Sprintf("%s[%d]", path, i), p[i], g[i], captured); m != nil {
					return m
				}
			}
			return nil
		}
	case float64:
		if g, ok := got.(float64); ok && g == p {
			return nil
		}
	default: // bool, nil
		if got == pattern {
			return nil
		}
	}
	return &mismatch{path, render(pattern), render(got)}
}

// placeholder splits "<kind>" or "<kind:name>".
func placeholder(s string) (kind, name string, ok bool) {
	if len(s) < 3 || s[0] != '<' || s[len(s)-1] != '>' {
		return "", "", false
	}
	kind, name, _ = strings.Cut(s[1:len(s)-1], ":")
	switch kind {
	case "any", "string", "nonempty", "number", "timestamp":
		return kind, name, true
	}
	return "", "", false
}

func matchPlaceholder(path, p, kind, name string, got any, captured vars) *mismatch {
	ok := false
	switch kind {
	case "any":
		ok = true
	case "string":
		_, ok = got.(string)
	case "nonempty":
		s, isStr := got.(string)
		ok = isStr && s != ""
	case "number":
		_, ok = got.(float64)
	case "timestamp":
		s, isStr := got.(string)
		_, err := time.Parse(time.RFC3339Nano, s)
		ok = isStr && err == nil
	}
	if !ok {
		return &mismatch{path, kindName(kind), render(got)}
	}
	if name != "" {
		if s, isStr := got.(string); isStr {
			captured[name] = s
		} else {
			captured[name] = render(got)
		}
	}
	return nil
}

func kindName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "nonempty":
		return "a non-empty string"
	case "number":
		return "a number"
	case "timestamp":
		return "an RFC 3339 timestamp"
	}
	return "any value"
}

func matchObject(path string, p, g map[string]any, captured vars) *mismatch {
	extraOK := false
	var wild []string // "<any>" keys of the pattern
	for k := range p {
		if k == "..." {
			extraOK = true
			continue
		}
		if kind, _, ok := placeholder(k); ok && kind == "any" {
			wild = append(wild, k)
			continue
		}
		v, ok := g[k]
		if !ok {
			return &mismatch{path, "key " + strconv.Quote(k), "an object without it: " + render(g)}
		}
		if m := matchValue(path+"."+k, p[k], v, captured); m != nil {
			return m
		}
	}
	rest := []string{}
	for k := range g {
		if _, named := p[k]; !named {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	sort.Strings(wild)
	if m := matchWild(path, p, g, wild, rest, captured); m != nil {
		return m
	}
	if !extraOK && len(rest) > len(wild) {
		return &mismatch{path, "exactly the keys of " + render(p), "extra key(s) in " + render(g)}
	}
	return nil
}

// matchWild assigns each "<any>" key of the pattern to a distinct key of
// got not named in the pattern, trying every assignment.
func matchWild(path string, p, g map[string]any, wild, rest []string, captured vars) *mismatch {
	if len(wild) == 0 {
		return nil
	}
	if len(rest) < len(wild) {
		return &mismatch{path, fmt.Sprintf("%d more key(s) for %s", len(wild), strings.Join(wild, ", ")), render(g)}
	}
	var first *mismatch
	for i, k := range rest {
		try := vars{}
		if m := matchValue(path+"."+k, p[wild[0]], g[k], try); m != nil {
			if first == nil {
				first = m
			}
			continue
		}
		others := append(append([]string{}, rest[:i]...), rest[i+1:]...)
		if m := matchWild(path, p, g, wild[1:], others, try); m != nil {
			if first == nil {
				first = m
			}
			continue
		}
		if _, name, _ := placeholder(wild[0]); name != "" {
			try[name] = k
		}
		for n, v := range try {
			captured[n] = v
		}
		return nil
	}
	return first
}

// render prints a value as compact JSON for messages.
func render(v any) string {
	if v == nil {
		return "null"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
