package protocol_test

import (
	"errors"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol"
)

var errorsIs = errors.Is

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		vsn  string
		want protocol.Version // 0: refused
		text string           // what the error says
	}{
		{"", protocol.V1, ""},
		{"1.0.0", protocol.V1, ""},
		{"1.0.9", protocol.V1, ""},
		{"2.0.0", protocol.V2, ""},
		{"2.0.5", protocol.V2, ""},
		{"2.0.0+build.7", protocol.V2, ""},
		{"2.0.1-rc.1", protocol.V2, ""},   // >= 2.0.0 and < 2.1.0
		{"2.0.0-rc.1", 0, `"2.0.0-rc.1"`}, // a pre-release sorts below 2.0.0
		{"2.1.0", 0, `unsupported serializer version: "2.1.0"`},
		{"1.1.0", 0, `"1.1.0"`},
		{"3.0.0", 0, `"3.0.0"`},
		{"0.0.1", 0, `"0.0.1"`},
		{"123.1.1", 0, `"123.1.1"`},
		{"abc", 0, `not a version: "abc"`},
		{"2.0", 0, `not a version: "2.0"`},
		{"2", 0, "not a version"},
		{"2.0.0.0", 0, "not a version"},
		{"02.0.0", 0, "not a version"},
		{"v2.0.0", 0, "not a version"},
		{" 2.0.0", 0, "not a version"},
		{"2.0.0-", 0, "not a version"},
		{"2.0.0-rc..1", 0, "not a version"},
		{"2.0.0+", 0, "not a version"},
		{"99999999999.0.0", 0, "not a version"},
		{"2.0.0\x00", 0, "not a version"},
		{"~> 2.0.0", 0, "not a version"},
		{"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, `"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaa..."`},
	} {
		t.Run(c.vsn, func(t *testing.T) {
			s, err := protocol.Negotiate(c.vsn)
			if c.want == 0 {
				if s != nil {
					t.Errorf("got serializer %v", s.Version())
				}
				checkErr(t, err, protocol.ErrVersion, c.text)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Version() != c.want || s != protocol.ForVersion(c.want) {
				t.Errorf("got %v, want %v", s.Version(), c.want)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	if protocol.V1.String() != "1.0.0" || protocol.V2.String() != "2.0.0" || protocol.Version(3).String() != "unknown" {
		t.Errorf("Version.String: %s %s %s", protocol.V1, protocol.V2, protocol.Version(3))
	}
	if protocol.ForVersion(protocol.V1) != protocol.V1JSON || protocol.ForVersion(protocol.V2) != protocol.V2JSON || protocol.ForVersion(7) != nil {
		t.Errorf("ForVersion")
	}
	if protocol.V1JSON.Version() != protocol.V1 || protocol.V2JSON.Version() != protocol.V2 {
		t.Errorf("Serializer.Version")
	}
}
