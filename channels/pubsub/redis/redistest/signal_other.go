//go:build !unix

package redistest

// Freeze fails the test: stopping a process without ending it needs
// SIGSTOP, which this system does not have.
func (s *Server) Freeze() {
	s.t.Helper()
	s.t.Skip("SKIPPED: freezing redis-server needs SIGSTOP (unix only)")
}

// Thaw does nothing here; see Freeze.
func (s *Server) Thaw() {}
