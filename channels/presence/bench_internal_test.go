package presence

import (
	"fmt"
	"testing"
)

// BenchmarkEncodeState measures encoding the state of N members after a
// change (the cache is dropped every time): the work the cache saves on
// each List or PushState of an unchanged topic.
func BenchmarkEncodeState(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			t := newTopic("room:bench")
			src := newRefSource()
			for i := range n {
				r := src.next()
				raw, err := encodeMeta([]byte(`{"online_at":1764100000,"device":"browser"}`), r, nil)
				if err != nil {
					b.Fatal(err)
				}
				t.add(fmt.Sprintf("u%d", i), &tracked{raw: raw, ref: r})
			}
			b.ReportAllocs()
			for b.Loop() {
				t.state = nil
				_ = t.encoded()
			}
		})
	}
}
