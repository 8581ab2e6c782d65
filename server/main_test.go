package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: every
// connection, outbox writer and server a test starts must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
