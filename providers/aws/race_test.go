//go:build race

package aws

// raceEnabled: the race detector's shadow memory roughly doubles the heap's
// footprint, so memory bounds are scaled under -race.
const raceEnabled = true
