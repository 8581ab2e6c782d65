package server

import (
	"net/url"
	"sync"
)

// paramsCache shares one Params map between the connections whose query
// strings are the same, such as every phoenix.js client without params
// ("vsn=2.0.0"): a map per idle connection would cost ~330 bytes. Only short
// queries are kept, up to a bound, so unique queries (tokens) never pile up.
// The shared maps are what channels see in Conn.Params, which they must not
// modify; the connect hook gets a map of its own.
type paramsCache struct {
	mu   sync.Mutex
	maps map[string]map[string]string
}

const (
	maxCachedQuery   = 64  // bytes of raw query
	maxCachedQueries = 256 // distinct queries kept
)

// get returns the params of rawQuery, shared when the query is cacheable.
func (c *paramsCache) get(rawQuery string) map[string]string {
	if len(rawQuery) > maxCachedQuery {
		return parseParams(rawQuery)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.maps[rawQuery]; ok {
		return p
	}
	p := parseParams(rawQuery)
	if len(c.maps) < maxCachedQueries {
		if c.maps == nil {
			c.maps = make(map[string]map[string]string)
		}
		c.maps[rawQuery] = p
	}
	return p
}

func parseParams(rawQuery string) map[string]string {
	q, _ := url.ParseQuery(rawQuery) // what parses is kept, as URL.Query does
	return queryParams(q)
}
