package eventsredis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/events/eventsredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

// BenchmarkRedisBytesPerEvent fills 100 rooms with 100 events of 300 bytes
// and reports what Redis says their keys take (MEMORY USAGE, streams and
// marks), per event: with the event's bytes and without.
func BenchmarkRedisBytesPerEvent(b *testing.B) {
	const rooms, perRoom = 100, 100
	srv := redistest.Start(b)
	ev := `{"specversion":"1.0","id":"8d2c7a3e-5b1f-4c1e-9e0a-2f6b1d9c4e7a","source":"https://example.com/orders","type":"com.example.order.created","data":"`
	ev += strings.Repeat("x", 300-len(ev)-2) + `"}`
	for b.Loop() {
		n := startNode(b, srv.Addr, eventsredis.Config{Size: perRoom})
		for r := range rooms {
			for i := range perRoom {
				e := strings.Replace(ev, "8d2c7a3e", strconv.Itoa(100000 + i)[:6]+"ab", 1)
				if err := n.svc.Broadcast("m"+strconv.Itoa(r), []byte(e)); err != nil {
					b.Fatal(err)
				}
			}
		}
		client := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		ctx := context.Background()
		var total int64
		for r := range rooms {
			stream, marks := "test:hs:m"+strconv.Itoa(r), "test:hm:m"+strconv.Itoa(r)
			for client.XLen(ctx, stream).Val() < perRoom {
				time.Sleep(time.Millisecond)
			}
			total += client.MemoryUsage(ctx, stream, 0).Val() + client.MemoryUsage(ctx, marks, 0).Val()
		}
		client.Close()
		per := float64(total) / (rooms * perRoom)
		b.ReportMetric(per, "bytes/event")
		b.ReportMetric(per-float64(len(ev)), "overhead/event")
	}
}
