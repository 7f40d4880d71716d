//go:build race

package faults

// raceEnabled reports a -race build: the heaviest sizes are cut so that
// `make test` (go test -race ./...) stays bounded.
const raceEnabled = true
