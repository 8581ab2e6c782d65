package servertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// lpConn is the LongPoll transport as phoenix.js runs it: a first GET opens
// the session (410 with a token), then a goroutine polls with the token
// while POSTs carry the client's messages as ndjson, one POST at a time.
type lpConn struct {
	c      *Client
	url    string
	header http.Header
	http   *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // the poller has returned

	mu    sync.Mutex // guards token
	token string
}

// lpAnswer is the JSON body of every LongPoll answer.
type lpAnswer struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

func dialLongPoll(c *Client, url string, o *options) (transport, error) {
	l := &lpConn{c: c, url: url, header: o.header.Clone(), http: &http.Client{}, done: make(chan struct{})}
	l.header.Set("Accept", "application/json")
	if o.hasToken {
		l.header.Set("X-Phoenix-AuthToken", o.token)
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	a, body, err := l.do(http.MethodGet, "", nil)
	if err != nil {
		l.cancel()
		return nil, &DialError{Err: err}
	}
	if a.Status != http.StatusGone || a.Token == "" {
		l.cancel()
		return nil, &DialError{Status: a.Status, Body: string(body)}
	}
	l.token = a.Token
	go l.poll()
	return l, nil
}

// do makes one request and decodes the answer, which it also returns as
// it came.
func (l *lpConn) do(method, contentType string, body []byte) (lpAnswer, []byte, error) {
	req, err := http.NewRequestWithContext(l.ctx, method, l.url, bytes.NewReader(body))
	if err != nil {
		return lpAnswer{}, nil, err
	}
	req.Header = l.header.Clone()
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	l.mu.Lock()
	token := l.token
	l.mu.Unlock()
	if token != "" {
		req.Header.Set("X-Phoenix-Longpoll-Token", token)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return lpAnswer{}, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return lpAnswer{}, nil, err
	}
	var a lpAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &a) != nil {
		return lpAnswer{}, data, fmt.Errorf("servertest: longpoll answered HTTP %d: %.80s", resp.StatusCode, data)
	}
	return a, data, nil
}

// poll is the GET loop; it ends the client as phoenix.js would close.
func (l *lpConn) poll() {
	defer close(l.done)
	for {
		if !l.c.waitReading() {
			return
		}
		a, _, err := l.do(http.MethodGet, "", nil)
		if err != nil {
			if l.ctx.Err() == nil {
				l.c.end(1006, err.Error())
			}
			return
		}
		switch a.Status {
		case http.StatusOK:
			for _, raw := range a.Messages {
				m, err := l.c.codec.decodeText([]byte(raw))
				if err != nil {
					l.c.end(1011, err.Error())
					return
				}
				l.c.received(m)
			}
		case http.StatusNoContent:
		case http.StatusGone:
			l.c.end(3410, "session_gone")
			return
		case http.StatusForbidden:
			l.c.end(1008, "forbidden")
			return
		default:
			l.c.end(1011, fmt.Sprintf("unhandled poll status %d", a.Status))
			return
		}
		if a.Token != "" {
			l.mu.Lock()
			l.token = a.Token
			l.mu.Unlock()
		}
	}
}

// send POSTs one message as an ndjson line (a binary push as standard
// base64, as phoenix.js sends it).
func (l *lpConn) send(frame []byte, binary bool) error {
	line := frame
	if binary {
		line = []byte(base64.StdEncoding.EncodeToString(frame))
	}
	a, _, err := l.do(http.MethodPost, "application/x-ndjson", line)
	if err != nil {
		return err
	}
	if a.Status != http.StatusOK {
		return fmt.Errorf("servertest: longpoll POST answered status %d", a.Status)
	}
	return nil
}

func (l *lpConn) close() {
	l.cancel()
	<-l.done
	l.c.end(1000, "closed by the client")
}

// errNotWebSocket is WriteRaw's error over LongPoll.
var errNotWebSocket = errors.New("servertest: raw writes need a WebSocket connection")

func (l *lpConn) writeRaw([]byte) error { return errNotWebSocket }
