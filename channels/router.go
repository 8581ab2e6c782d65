package channels

import "strings"

// Factory creates the Channel for one join of topic. It runs on the
// goroutine of the joining channel (see Channel), for many connections at
// once: it must be safe for concurrent use.
type Factory func(topic string) Channel

// Router maps topic patterns to channel factories. A pattern is an exact
// topic, or a prefix followed by "*" ("events:*" matches every topic that
// starts with "events:"), as in Phoenix's channel/3. The first pattern added
// that matches wins. A Router must not be changed while Muxes use it.
type Router struct {
	routes []route
}

type route struct {
	pattern   string
	prefix    bool
	factory   Factory
	authorize []Authorizer
	intercept []string // events the channels' Filter sees; nil means all
}

// intercepts reports whether a broadcast of event goes through the
// channel's Filter.
func (r *route) intercepts(event string) bool {
	if r.intercept == nil {
		return true
	}
	for _, e := range r.intercept {
		if e == event {
			return true
		}
	}
	return false
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{} }

// Handle routes topics matching pattern to factory, Phoenix's
// channel "room:*", RoomChannel. Options add to the route: Authorize
// decides its joins before a channel is created, Intercept picks the
// broadcasts its channels' Filter sees.
func (r *Router) Handle(pattern string, factory Factory, opts ...RouteOption) {
	rt := route{pattern: pattern, factory: factory}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		rt.pattern, rt.prefix = p, true
	}
	for _, o := range opts {
		o(&rt)
	}
	r.routes = append(r.routes, rt)
}

// Match returns the factory for topic, or nil when no pattern matches.
func (r *Router) Match(topic string) Factory {
	if rt := r.match(topic); rt != nil {
		return rt.factory
	}
	return nil
}

// match returns the route of topic, or nil.
func (r *Router) match(topic string) *route {
	if r == nil {
		return nil
	}
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.prefix && strings.HasPrefix(topic, rt.pattern) || !rt.prefix && topic == rt.pattern {
			return rt
		}
	}
	return nil
}
