package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fawkes-rt/fawkes/internal/gopool"
)

// UpgradeListener answers WebSocket upgrades of one path itself and passes
// every other connection on to an http.Server. net/http reads each request
// into a Request, a Header map and a URL, and hands the connection over by
// hijacking it; for a WebSocket that is most of the server's work per
// connect besides the system calls. The UpgradeListener reads the first
// request head of each connection into a reused buffer, and when it is a
// well-formed upgrade of its path (see upgradeHead), runs the same checks
// and connect hook as Endpoint.ServeHTTP and writes the same 101 response.
// Anything else, including every upgrade the fast path does not take (a
// head over 4 KiB, an odd header), goes to the http.Server with the bytes
// already read put back in front, and gets exactly the answer it would get
// without the UpgradeListener.
//
// Give it the plain TCP listener (TLS must be terminated before it, as the
// poller needs the socket itself), and serve the Endpoint on the same path
// through the http.Server too:
//
//	ln = endpoint.UpgradeListener(ln, "/socket/websocket", 10*time.Second)
//	srv.Serve(ln)
//
// Accept, Close and Addr are safe for concurrent use.
type UpgradeListener struct {
	e           *Endpoint
	ln          net.Listener
	path        string
	prefix      []byte // "GET " + path: how a head the fast path takes begins
	headTimeout time.Duration

	handOff chan net.Conn // connections for the http.Server
	done    chan struct{} // closed by Close or a fatal accept error
	// ctx is the connect hook's context; it ends when the listener stops.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	err     error                 // why Accept returns no more connections
	reading map[net.Conn]struct{} // connections whose first head is being read
}

// headBufferSize is the largest request head the fast path reads: larger
// heads (big cookies) go to net/http.
const headBufferSize = 4096

// UpgradeListener returns a listener that answers the WebSocket upgrades
// of path (the endpoint's mount followed by "websocket", e.g.
// "/socket/websocket") on the connections ln accepts, and returns every
// other connection from Accept. A connection that has not sent a whole
// request head within headTimeout (10 s if zero) is closed. The accept loop
// starts at once; Close stops it and closes ln.
func (e *Endpoint) UpgradeListener(ln net.Listener, path string, headTimeout time.Duration) *UpgradeListener {
	if headTimeout <= 0 {
		headTimeout = 10 * time.Second
	}
	l := &UpgradeListener{
		e: e, ln: ln, path: path, prefix: []byte("GET " + path), headTimeout: headTimeout,
		handOff: make(chan net.Conn),
		done:    make(chan struct{}),
		reading: make(map[net.Conn]struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.acceptLoop()
	return l
}

// Accept returns the next connection that is not a fast-path upgrade.
func (l *UpgradeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.handOff:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

// Close stops accepting, closes the underlying listener and every
// connection whose first request head has not arrived yet. Connections
// already upgraded or handed to the http.Server are not affected.
func (l *UpgradeListener) Close() error {
	err := l.ln.Close()
	l.stop(net.ErrClosed)
	return err
}

// Addr returns the underlying listener's address.
func (l *UpgradeListener) Addr() net.Addr { return l.ln.Addr() }

// stop ends Accept with err (the first one kept) and closes the
// connections being read.
func (l *UpgradeListener) stop(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.err = err
	close(l.done)
	l.cancel()
	for c := range l.reading {
		_ = c.Close()
	}
	clear(l.reading)
}

// acceptLoop accepts connections and has each one's first head read on a
// pooled goroutine. Temporary errors (out of file descriptors) are retried
// after a pause that doubles up to a second, as net/http does.
func (l *UpgradeListener) acceptLoop() {
	var pause time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				l.e.log.Warn().Err(err).Dur("retry_in_ms", pause).Msg("accept failed")
				select {
				case <-time.After(pause):
					continue
				case <-l.done:
					return
				}
			}
			l.stop(err)
			return
		}
		pause = 0
		if !l.track(c) {
			_ = c.Close()
			return
		}
		headReaders.Go(headTask{l, c})
	}
}

// isTemporary reports whether an accept error passes (EMFILE, ENFILE,
// ECONNABORTED...): the errors whose Temporary method says so.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track records c as being read; false once the listener is closed.
func (l *UpgradeListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false
	}
	l.reading[c] = struct{}{}
	return true
}

// untrack reports whether c was still tracked (Close did not close it).
func (l *UpgradeListener) untrack(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.reading[c]
	delete(l.reading, c)
	return ok
}

// headTask is a connection whose first request head is to be read.
type headTask struct {
	l *UpgradeListener
	c net.Conn
}

// headReaders reads first heads on reused goroutines (gopool): a new
// goroutine per connection would grow its stack for every upgrade.
var headReaders = gopool.Pool[headTask]{Run: func(t headTask) { t.l.serve(t.c) }}

// headBuffer is a head buffer with its parse.
type headBuffer struct {
	buf  [headBufferSize]byte
	head upgradeHead
}

// spareHeads keeps a few head buffers for the next connections. It is
// bounded, unlike a sync.Pool, which would keep every buffer of a burst of
// thousands of connections at once for two garbage collections (~3 KiB
// per connection of a 10,000-connection burst, measured): past the bound
// a buffer is left to the collector.
var spareHeads = make(chan *headBuffer, 64)

func getHeadBuffer() *headBuffer {
	select {
	case hb := <-spareHeads:
		return hb
	default:
		return new(headBuffer)
	}
}

func putHeadBuffer(hb *headBuffer) {
	clear(hb.head.protocols)
	hb.head = upgradeHead{protocols: hb.head.protocols[:0]}
	select {
	case spareHeads <- hb:
	default:
	}
}

// serve reads c's first request head and upgrades it, or hands c to the
// http.Server.
func (l *UpgradeListener) serve(c net.Conn) {
	hb := getHeadBuffer()
	defer putHeadBuffer(hb)
	_ = c.SetReadDeadline(time.Now().Add(l.headTimeout))
	n, end, err := l.readHead(c, hb.buf[:])
	_ = c.SetReadDeadline(time.Time{})
	if !l.untrack(c) {
		return // closed by Close
	}
	if err != nil && n == 0 || errors.Is(err, errHeadTimeout) {
		_ = c.Close()
		return
	}
	if end < 0 || !hb.head.parse(hb.buf[:end], l.path) {
		l.passOn(c, hb.buf[:n])
		return
	}
	var leftover []byte
	if n > end+4 {
		leftover = bytes.Clone(hb.buf[end+4 : n])
	}
	l.e.upgradeFast(l.ctx, c, &hb.head, leftover)
}

var errHeadTimeout = errors.New("request head not read in time")

// readHead reads into buf until the head's blank line, the end of a first
// line that cannot be this path's upgrade, a blank line of bare LFs, a full
// buffer or an error. It
// returns the bytes read and where the head ends (the index of its
// "\r\n\r\n"), or -1 when it did not.
func (l *UpgradeListener) readHead(c net.Conn, buf []byte) (n, end int, err error) {
	for n < len(buf) {
		m, rerr := c.Read(buf[n:])
		from := max(n-3, 0)
		n += m
		if i := bytes.Index(buf[from:n], []byte("\r\n\r\n")); i >= 0 {
			return n, from + i, nil
		}
		if bytes.Contains(buf[max(n-m-1, 0):n], []byte("\n\n")) {
			return n, -1, nil // lines ended by a bare LF: net/http reads those
		}
		if !bytes.HasPrefix(buf[:n], l.prefix[:min(n, len(l.prefix))]) {
			return n, -1, nil // not ours: net/http reads the rest
		}
		if rerr != nil {
			var ne net.Error
			if errors.As(rerr, &ne) && ne.Timeout() {
				return n, -1, errHeadTimeout
			}
			return n, -1, rerr
		}
	}
	return n, -1, nil
}

// passOn hands c to the http.Server, with read put back in front of what
// it reads next.
func (l *UpgradeListener) passOn(c net.Conn, read []byte) {
	rc := &replayConn{Conn: c, pending: bytes.Clone(read)}
	select {
	case l.handOff <- rc:
	case <-l.done:
		_ = c.Close()
	}
}

// replayConn is a connection whose first bytes were read by the fast
// path: Read returns them first.
type replayConn struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
}

// Read implements net.Conn.
func (r *replayConn) Read(p []byte) (int, error) {
	r.mu.Lock()
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		if len(r.pending) == 0 {
			r.pending = nil
		}
		r.mu.Unlock()
		return n, nil
	}
	r.mu.Unlock()
	return r.Conn.Read(p)
}

// unwrapConn returns the socket under a replayConn whose bytes have all
// been read (net/http read them with the request), so that the poller and
// the writer pool can use it; any other conn is returned as it is.
func unwrapConn(c net.Conn) net.Conn {
	r, ok := c.(*replayConn)
	if !ok {
		return c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) > 0 {
		return c
	}
	return r.Conn
}

// upgradeFast answers a parsed upgrade with serveWebSocket's checks and
// connect hook, then the 101 response gobwas/ws writes, and starts the
// connection. Only a bad auth token in the protocol list (400) and the
// refusals of accept are answered here: each already counted a refusal, so
// handing the request to net/http would count it twice.
func (e *Endpoint) upgradeFast(ctx context.Context, c net.Conn, h *upgradeHead, leftover []byte) {
	offered, authToken, hasToken, err := parseProtocols(byteStrings(h.protocols))
	if err != nil {
		e.stats.refused.Add(1)
		writeStatus(c, 400, "invalid auth token in Sec-WebSocket-Protocol\n")
		return
	}
	acc, status := e.accept(fastOpening{ctx, h, c}, TransportWebSocket, authToken, hasToken)
	if status != 0 {
		writeStatus(c, status, "")
		return
	}
	resp := make([]byte, 0, 160)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = appendAcceptKey(resp, h.key)
	resp = append(resp, "\r\n"...)
	if offered {
		resp = append(resp, "Sec-WebSocket-Protocol: "+subprotocolPhoenix+"\r\n"...)
	}
	resp = append(resp, "\r\n"...)
	if _, err := c.Write(resp); err != nil {
		e.stats.refused.Add(1)
		e.log.Debug().Err(err).Msg("websocket upgrade failed")
		_ = c.Close()
		return
	}
	var br *bufio.Reader
	if len(leftover) > 0 {
		// The client wrote behind its request: startWebSocket reads what br
		// holds before it leaves the socket to the poller.
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(leftover), c), max(4096, len(leftover)))
		_, _ = br.Peek(len(leftover)) // fills from leftover alone: never blocks
	}
	e.startWebSocket(c, br, acc)
}

func byteStrings(bs [][]byte) []string {
	if len(bs) == 0 {
		return nil
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// fastOpening is an upgrade read by the fast path, as accept sees it. Its
// context ends when the UpgradeListener stops.
type fastOpening struct {
	ctx context.Context
	h   *upgradeHead
	c   net.Conn
}

func (f fastOpening) origin() string           { return string(f.h.origin) }
func (f fastOpening) rawQuery() string         { return string(f.h.rawQuery) }
func (f fastOpening) remoteAddr() string       { return f.c.RemoteAddr().String() }
func (f fastOpening) context() context.Context { return f.ctx }
func (f fastOpening) connectRequest() *ConnectRequest {
	return &ConnectRequest{Header: f.h.header(), RemoteAddr: f.remoteAddr(), URI: f.h.uri()}
}

// writeStatus answers a refused upgrade with status and body, and closes
// c. net/http's answer to the same refusal differs only in keeping the
// connection open, which a client refused its WebSocket has no use for.
func writeStatus(c net.Conn, status int, body string) {
	var b []byte
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	if body != "" { // http.Error's headers, in net/http's order
		b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff"...)
	}
	b = append(b, "\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write(b)
	_ = c.Close()
}

// websocketGUID is RFC 6455's key suffix.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// appendAcceptKey appends the Sec-WebSocket-Accept value for key.
func appendAcceptKey(b, key []byte) []byte {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(websocketGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.AppendEncode(b, h.Sum(sum[:0]))
}
