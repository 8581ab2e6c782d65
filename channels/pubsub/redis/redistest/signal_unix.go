//go:build unix

package redistest

import "syscall"

// Freeze stops the server process with SIGSTOP: it keeps its connections
// but answers nothing, as in a network partition, until Thaw.
func (s *Server) Freeze() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("SIGSTOP redis-server: %v", err)
	}
}

// Thaw resumes a server stopped by Freeze (SIGCONT).
func (s *Server) Thaw() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}
