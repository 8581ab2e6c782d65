package server_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A library user who embeds the endpoint does not inherit what only the
// binary (Prometheus, TOML) or a cluster (go-redis) needs.
func TestLibraryDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	pkgs := []string{"server", "channels", "channels/events", "channels/presence", "channels/pubsub", "server/servertest", "server/tokenauth"}
	args := []string{"list", "-deps"}
	for _, p := range pkgs {
		args = append(args, "github.com/fawkes-rt/fawkes/"+p)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/prometheus/", "github.com/redis/", "github.com/BurntSushi/toml"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the library packages depend on %s", dep)
			}
		}
	}
}
