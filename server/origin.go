package server

import (
	"fmt"
	"net/url"
	"strings"
)

// AllowOrigins returns an origin check that accepts the listed origins, as
// Phoenix's check_origin list does. Each entry is "scheme://host:port" where
// scheme and port may be left out to mean any ("//example.com"), and the
// host may start with "*." to match the domain and every subdomain
// ("//*.example.com" matches example.com and a.example.com, not
// badexample.com). An entry with a scheme and no port means that scheme's
// default port. Origins without a host ("null", "file://") are refused.
func AllowOrigins(entries []string) (func(origin string) bool, error) {
	var allowed []originPattern
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, err := parseOriginPattern(e)
		if err != nil {
			return nil, err
		}
		allowed = append(allowed, p)
	}
	return func(origin string) bool {
		u, err := url.Parse(origin)
		if err != nil || u.Hostname() == "" {
			return false
		}
		host, port := strings.ToLower(u.Hostname()), effectivePort(u)
		for _, p := range allowed {
			if p.match(strings.ToLower(u.Scheme), host, port) {
				return true
			}
		}
		return false
	}, nil
}

type originPattern struct {
	scheme   string // "" = any
	host     string
	wildcard bool
	port     string // "" = any
}

func parseOriginPattern(e string) (originPattern, error) {
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return originPattern{}, fmt.Errorf("check origin: %q is not an origin like //host, https://host or //*.host", e)
	}
	p := originPattern{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if h, ok := strings.CutPrefix(p.host, "*."); ok {
		p.host, p.wildcard = h, true
	}
	if p.port == "" && p.scheme != "" {
		p.port = defaultPort(p.scheme)
	}
	return p, nil
}

func (p originPattern) match(scheme, host, port string) bool {
	if p.scheme != "" && p.scheme != scheme {
		return false
	}
	if p.port != "" && p.port != port {
		return false
	}
	if p.wildcard {
		return host == p.host || strings.HasSuffix(host, "."+p.host)
	}
	return host == p.host
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPort(strings.ToLower(u.Scheme))
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	}
	return ""
}
