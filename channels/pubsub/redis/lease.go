package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// leaseChunk is the most leases one script call handles.
const leaseChunk = 256

// leaseScript takes or renews each lease in KEYS for ARGV[1] (the node id)
// for ARGV[2] milliseconds, and returns 1 for each this node holds.
var leaseScript = goredis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
    out[i] = 1
  elseif not v then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`)

// releaseScript deletes each lease in KEYS that ARGV[1] holds.
var releaseScript = goredis.NewScript(`
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 0`)

func (p *PubSub) leaseKeys(names []string) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = p.cfg.Prefix + ":lease:" + n
	}
	return keys
}

// Lease implements pubsub.Leaser. A lease is a Redis key holding the node
// id, with the ttl as its expiry.
func (p *PubSub) Lease(ctx context.Context, names []string, ttl time.Duration) ([]bool, error) {
	if err := p.health.err(); err != nil {
		return nil, err
	}
	held := make([]bool, 0, len(names))
	ms := strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)
	keys := p.leaseKeys(names)
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), leaseChunk)]
		keys = keys[len(chunk):]
		res, err := leaseScript.Run(ctx, p.client, chunk, p.nodeS, ms).Int64Slice()
		if err != nil {
			return nil, err
		}
		for _, v := range res {
			held = append(held, v == 1)
		}
	}
	return held, nil
}

// Release implements pubsub.Leaser.
func (p *PubSub) Release(ctx context.Context, names []string) {
	keys := p.leaseKeys(names)
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), leaseChunk)]
		keys = keys[len(chunk):]
		_ = releaseScript.Run(ctx, p.client, chunk, p.nodeS).Err()
	}
}
