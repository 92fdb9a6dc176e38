//go:build !linux

package main

import "io"

// isTerminal is false off Linux: delete then needs --yes.
func isTerminal(io.Reader) bool { return false }
