package phoenixredis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// MaxNodeName bounds a node name: it becomes an atom on every Elixir node.
const MaxNodeName = 128

// ValidNodeName reports why name cannot be this node's name on the
// Phoenix side, or nil. Every Elixir node that receives a broadcast of this
// node creates the atom name for good (Phoenix.PubSub.Redis decodes
// without :safe), so it must be short and plain: a letter, then letters,
// digits, '_', '-' and '.', optionally "@host" of the same characters
// ("fawkes-1", "fawkes1@10.0.0.7"), at most MaxNodeName bytes, and not one
// of Elixir's nil, true and false.
func ValidNodeName(name string) error {
	if name == "" {
		return errors.New("empty; give each node a unique name, such as fawkes-1")
	}
	if len(name) > MaxNodeName {
		return fmt.Errorf("%d bytes; at most %d", len(name), MaxNodeName)
	}
	local, host, hasHost := strings.Cut(name, "@")
	if !isLetter(local[0]) {
		return errors.New("must start with a letter")
	}
	if !plain(local) || hasHost && (host == "" || !plain(host)) {
		return errors.New("only letters, digits, '_', '-', '.' and one '@' are allowed")
	}
	switch name {
	case "nil", "true", "false":
		return fmt.Errorf("%s is a reserved atom", name)
	}
	return nil
}

// ValidPubSubName reports why name cannot be the name of an Elixir PubSub
// (the name: given to Phoenix.PubSub in the app's supervision tree, such
// as MyApp.PubSub), or nil: dot-separated segments of letters, digits and
// '_', each starting with a letter or '_', at most 200 bytes. A leading
// "Elixir." is allowed.
func ValidPubSubName(name string) error {
	name = strings.TrimPrefix(name, "Elixir.")
	if name == "" || len(name) > 200 {
		return errors.New("want the Elixir PubSub name, such as MyApp.PubSub (at most 200 characters)")
	}
	for seg := range strings.SplitSeq(name, ".") {
		if seg == "" || !(isLetter(seg[0]) || seg[0] == '_') {
			return fmt.Errorf("segment %q of %q must start with a letter", seg, name)
		}
		for i := range len(seg) {
			if c := seg[i]; !isLetter(c) && !isDigit(c) && c != '_' {
				return fmt.Errorf("%q: only letters, digits, '_' and '.' are allowed", name)
			}
		}
	}
	return nil
}

// Channel returns the Redis channel of the Elixir PubSub named name, as
// Phoenix.PubSub.Redis names it: "phx:Elixir.MyApp.PubSub.Adapter" for
// MyApp.PubSub.
func Channel(name string) string {
	return "phx:Elixir." + strings.TrimPrefix(name, "Elixir.") + ".Adapter"
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func plain(s string) bool {
	for i := range len(s) {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// The registry of Fawkes node names, in Redis:
//
//	<prefix>:phoenix:nodes   a hash: Phoenix node name -> cluster node id
//
// of the Fawkes nodes that share the cluster's topic channels. Every
// batch a node publishes on the Phoenix channel is preceded, in the same
// pipeline, by the HSET of its own name, so the registration is in Redis
// before any receiver can see a message under that name, whatever Redis
// lost meanwhile. A receiver that meets a name it does not know asks Redis
// once and remembers the answer for namesTTL. A node removes its entry
// when it closes, and the node that declares a dead node down removes
// the dead node's.

// namesTTL is how long a receiver trusts what it learnt about a name.
const namesTTL = 30 * time.Second

// maxCachedNames bounds the receiver's memory of names.
const maxCachedNames = 4096

// lookupTimeout bounds the HGET for a name not in the cache.
const lookupTimeout = time.Second

// forgetScript removes from the hash KEYS[1] every name registered by the
// node id ARGV[1].
var forgetScript = goredis.NewScript(`
local kv = redis.call('HGETALL', KEYS[1])
for i = 1, #kv, 2 do
  if kv[i+1] == ARGV[1] then redis.call('HDEL', KEYS[1], kv[i]) end
end
return 0`)

// fawkesNames tells whether a Phoenix node name is a Fawkes node of this
// cluster. Only the receive goroutine uses it.
type fawkesNames struct {
	client goredis.UniversalClient
	key    string
	known  map[string]nameEntry
}

type nameEntry struct {
	fawkes bool
	until  time.Time
}

// isFawkes reports whether name is registered, from the cache or Redis.
func (n *fawkesNames) isFawkes(ctx context.Context, name []byte, now time.Time) (bool, error) {
	if e, ok := n.known[string(name)]; ok && now.Before(e.until) {
		return e.fawkes, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	err := n.client.HGet(ctx, n.key, string(name)).Err()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return false, err
	}
	if n.known == nil || len(n.known) >= maxCachedNames {
		n.known = make(map[string]nameEntry)
	}
	fawkes := err == nil
	n.known[string(name)] = nameEntry{fawkes: fawkes, until: now.Add(namesTTL)}
	return fawkes, nil
}
