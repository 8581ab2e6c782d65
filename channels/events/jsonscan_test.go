package events

import (
	"strings"
	"testing"
)

func TestScanObject(t *testing.T) {
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}" }
	tests := []struct {
		in    string
		names []string
		kinds string // each member's kind
		err   scanError
	}{
		{in: ` {"a":1, "b":"x" ,"c":{"d":[]},"e":null,"f":true,"g":false,"h":[1]} `, names: []string{"a", "b", "c", "e", "f", "g", "h"}, kinds: "number string object null true false array"},
		{in: `{"i\u0064":"1","id":"2"}`, names: []string{"id", "id"}, kinds: "string string"},
		{in: "{\"a\":\"\xff\"}", err: scanNotJSON},
		{in: `{"a":1}x`, err: scanNotJSON},
		{in: `{"a":1,}`, err: scanNotJSON},
		{in: ``, err: scanNotJSON},
		{in: `[1]`, err: scanNotObject},
		{in: ` "s" `, err: scanNotObject},
		{in: `[1] x`, err: scanNotJSON},
		{in: deep(10000), names: []string{"a"}, kinds: "array"},
		{in: deep(10001), err: scanNotJSON},
	}
	for _, tt := range tests {
		members, err := scanObject([]byte(tt.in), nil)
		if err != tt.err {
			t.Errorf("scanObject(%.40q): error %d, want %d", tt.in, err, tt.err)
			continue
		}
		if err != scanOK {
			continue
		}
		var names, kinds []string
		for _, m := range members {
			names = append(names, m.name)
			kinds = append(kinds, m.kind.String())
		}
		if strings.Join(names, ",") != strings.Join(tt.names, ",") || strings.Join(kinds, " ") != tt.kinds {
			t.Errorf("scanObject(%.40q) = %q %q, want %q %q", tt.in, names, kinds, tt.names, tt.kinds)
		}
	}
}
