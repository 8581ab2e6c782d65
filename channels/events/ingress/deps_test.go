package ingress_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The channel model knows nothing of HTTP (docs: architecture). This
// package is the one under channels/ that does, so it checks that none of
// the model's packages imports it, or net/http by any other way.
func TestChannelModelKnowsNoHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	args := []string{"list", "-deps"}
	for _, p := range []string{"channels", "channels/events", "channels/presence", "channels/pubsub"} {
		args = append(args, "github.com/fawkes-rt/fawkes/"+p)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "net/http" || dep == "github.com/fawkes-rt/fawkes/channels/events/ingress" {
			t.Errorf("the channel model depends on %s", dep)
		}
	}
}
