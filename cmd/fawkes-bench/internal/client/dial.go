package client

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// DialConfig configures a Dialer. The zero value dials
// ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0 with the OS's choice of
// source address.
type DialConfig struct {
	// Target is a ws:// URL, or host:port meaning
	// ws://host:port/socket/websocket. "vsn=2.0.0" is added to the query
	// when it has no vsn. Zero means 127.0.0.1:4000.
	Target string
	// SourceAddrs, when positive and the target is a loopback address,
	// cycles the source address of each dial over SourceAddrs addresses
	// from 127.0.0.SourceFirst: each source address has its own ~28k
	// ephemeral ports. Zero means the OS chooses (one source address).
	SourceAddrs int
	// SourceFirst is the last byte of the first source address, so that
	// several load generators can use distinct ones. Zero means 1.
	SourceFirst int
	// Timeout bounds the TCP connect plus the WebSocket handshake. Zero
	// means 10 s.
	Timeout time.Duration
}

// Dialer opens Conns. Safe for concurrent use.
type Dialer struct {
	url     string
	ws      ws.Dialer
	dialers []*net.Dialer
	next    atomic.Uint64
	ids     atomic.Int64
}

// TargetURL normalizes a target as DialConfig.Target describes.
func TargetURL(target string) (string, error) {
	if target == "" {
		target = "127.0.0.1:4000"
	}
	if !strings.Contains(target, "://") {
		target = "ws://" + target + "/socket/websocket"
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("target %q: %w", target, err)
	}
	if u.Scheme != "ws" {
		return "", fmt.Errorf("target %q: only ws:// is supported", target)
	}
	q := u.Query()
	if q.Get("vsn") == "" {
		q.Set("vsn", "2.0.0")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// NewDialer checks cfg and returns a Dialer.
func NewDialer(cfg DialConfig) (*Dialer, error) {
	target, err := TargetURL(cfg.Target)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if cfg.SourceFirst < 0 || cfg.SourceFirst > 254 {
		return nil, fmt.Errorf("source address 127.0.0.%d: want 1..254", cfg.SourceFirst)
	}
	u, _ := url.Parse(target)
	d := &Dialer{url: target}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil && cfg.SourceAddrs > 0 {
		first := max(cfg.SourceFirst, 1)
		for i := first; i < first+cfg.SourceAddrs && i <= 254; i++ {
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i))}
			d.dialers = append(d.dialers, &net.Dialer{LocalAddr: local, Timeout: timeout})
		}
	} else {
		d.dialers = []*net.Dialer{{Timeout: timeout}}
	}
	d.ws = ws.Dialer{
		Timeout: timeout,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := d.dialers[d.next.Add(1)%uint64(len(d.dialers))]
			return nd.DialContext(ctx, network, addr)
		},
	}
	return d, nil
}

// URL returns the URL the Dialer connects to.
func (d *Dialer) URL() string { return d.url }

// Dial opens a WebSocket connection. Its messages go to h once it is
// joined or given to a Poller.
func (d *Dialer) Dial(ctx context.Context, h Handler, st *Stats) (*Conn, error) {
	nc, br, _, err := d.ws.Dial(ctx, d.url)
	if err != nil {
		return nil, err
	}
	c := newConn(int(d.ids.Add(1)-1), nc, h, st)
	if br != nil { // the server spoke right after the handshake
		buf := make([]byte, br.Buffered())
		_, _ = br.Read(buf)
		ws.PutReader(br)
		if err := c.feed(buf, time.Now().UnixNano()); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	return c, nil
}
