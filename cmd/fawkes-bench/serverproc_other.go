//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing here: a started server outlives this process
// if it is killed without stopping it.
func dieWithParent(*exec.Cmd) {}
