package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// httpResult is an HTTP answer, for the status, header, body, json and
// took steps.
type httpResult struct {
	what   string // "GET /socket/longpoll", for messages
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// httpDo sends one request and reads the whole answer.
func httpDo(ctx context.Context, client *http.Client, method, url string, header http.Header, body string) (*httpResult, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	return &httpResult{what: method + " " + url, status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}, nil
}

// lpConn is a LongPoll session as phoenix.js drives it: the first GET opens
// it and gives the session token, later GETs poll for messages, POSTs send.
type lpConn struct {
	name   string
	url    string // http://host/socket/longpoll
	opts   dialOptions
	token  string
	client *http.Client
	trace  *tracer
	q      *queue
	ended  bool
	last   *httpResult
}

// lpBody is a LongPoll JSON answer.
type lpBody struct {
	Status   *int            `json:"status"`
	Token    *string         `json:"token"`
	Messages json.RawMessage `json:"messages"`
}

// requestURL is the URL of one request: the connect query, and the session
// token as a last "token" parameter when it travels in the query.
func (c *lpConn) requestURL() string {
	u := c.url
	q := ""
	if c.opts.hasQuery {
		q = c.opts.query
	}
	if !c.opts.tokenInHeader && c.token != "" {
		if q != "" {
			q += "&"
		}
		q += "token=" + c.token
	}
	if q != "" {
		u += "?" + q
	}
	return u
}

func (c *lpConn) header(contentType string) http.Header {
	h := c.opts.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Accept", "application/json")
	if c.opts.origin != "" {
		h.Set("Origin", c.opts.origin)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if c.opts.tokenInHeader && c.token != "" {
		h.Set("X-Phoenix-Longpoll-Token", c.token)
	}
	return h
}

func (c *lpConn) do(ctx context.Context, method, contentType, body string) (*httpResult, error) {
	u := c.requestURL()
	what := method + " " + u
	if body != "" {
		what += " " + shorten(strings.ReplaceAll(body, "\n", `\n`), 300)
	}
	c.trace.add(c.name, "→", what)
	r, err := httpDo(ctx, c.client, method, u, c.header(contentType), body)
	if err != nil {
		c.trace.add(c.name, "←", "error: "+err.Error())
		return nil, err
	}
	c.trace.add(c.name, "←", fmt.Sprintf("HTTP %d %s", r.status, shorten(string(r.body), 400)))
	c.last = r
	return r, nil
}

// open makes the session: the first GET must answer {"status":410,"token":..}.
func (c *lpConn) open(ctx context.Context) error {
	r, err := c.do(ctx, http.MethodGet, "", "")
	if err != nil {
		return err
	}
	var b lpBody
	if r.status != http.StatusOK || json.Unmarshal(r.body, &b) != nil || b.Status == nil || *b.Status != http.StatusGone || b.Token == nil || *b.Token == "" {
		return &stepFailure{expected: `HTTP 200 {"status":410,"token":"<nonempty>","messages":[]}`, got: fmt.Sprintf("HTTP %d %s", r.status, shorten(string(r.body), 300))}
	}
	c.token = *b.Token
	return nil
}

// poll sends one GET and queues the messages it returns. A status other
// than 200 and 204 ends the session (queued as the end of the connection).
func (c *lpConn) poll(ctx context.Context) (*httpResult, error) {
	r, err := c.do(ctx, http.MethodGet, "", "")
	if err != nil {
		return nil, err
	}
	var b lpBody
	if r.status != http.StatusOK || json.Unmarshal(r.body, &b) != nil || b.Status == nil {
		c.end(fmt.Sprintf("poll answered HTTP %d %s", r.status, shorten(string(r.body), 200)))
		return r, nil
	}
	switch *b.Status {
	case http.StatusOK, http.StatusNoContent:
		if b.Token != nil {
			c.token = *b.Token // phoenix.js keeps whatever the server says
		}
		var msgs []string
		if len(b.Messages) > 0 && json.Unmarshal(b.Messages, &msgs) != nil {
			c.end("poll messages are not an array of strings: " + shorten(string(b.Messages), 200))
			return r, nil
		}
		for _, m := range msgs {
			c.q.push(event{kind: evText, data: []byte(m)})
		}
	default:
		c.end(fmt.Sprintf("poll answered %s", shorten(string(r.body), 200)))
	}
	return r, nil
}

func (c *lpConn) end(reason string) {
	if !c.ended {
		c.ended = true
		c.q.push(event{kind: evEnd, reason: reason})
	}
}

// next returns the next message, polling until deadline.
func (c *lpConn) next(deadline time.Time) (event, bool) {
	for {
		if e, ok := c.q.pop(time.Now()); ok {
			return e, true
		}
		if time.Until(deadline) <= 0 {
			return event{}, false
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, err := c.poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			c.end("poll failed: " + err.Error())
		}
	}
}

// send posts body and requires {"status":200}.
func (c *lpConn) send(ctx context.Context, contentType, body string) error {
	r, err := c.do(ctx, http.MethodPost, contentType, body)
	if err != nil {
		return err
	}
	var b lpBody
	if r.status != http.StatusOK || json.Unmarshal(r.body, &b) != nil || b.Status == nil || *b.Status != http.StatusOK {
		return &stepFailure{expected: `HTTP 200 {"status":200}`, got: fmt.Sprintf("HTTP %d %s", r.status, shorten(string(r.body), 300))}
	}
	return nil
}

func (c *lpConn) close() { c.client.CloseIdleConnections() }
