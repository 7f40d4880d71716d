#!/usr/bin/env bash
# Run every fuzz target of rigging for a bounded time each (FUZZTIME, default
# 15s), one after the other, and fail on the first crash. A failing input is
# written by Go under <package>/testdata/fuzz/<Target>/ and printed; commit it
# with the fix so it stays a regression test (every target also runs its
# seeds and that corpus as a plain `go test`).
#
# Usage: .ci/fuzz.sh [FUZZTIME]      e.g. .ci/fuzz.sh 60s
# Total time is about (number of targets) x (FUZZTIME + build time).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-${FUZZTIME:-15s}}
# Minimising a new input can take up to a minute by default, during which no
# input runs and the time budget is spent: keep it short.
minimize=${FUZZMINIMIZETIME:-3s}

# package target
targets=(
	". FuzzParseName"
	". FuzzParseKind"
	". FuzzBackupJSON"
	". FuzzRestoreJSON"
	"./manifest FuzzDecode"
	"./manifest FuzzBlockYAML"
	"./archive FuzzRead"
	"./providers/filesystem FuzzKeys"
	"./external/internal/wire FuzzDecodeItem"
	"./external/internal/wire FuzzDecodeBackup"
	"./external/internal/wire FuzzDecodeRestore"
	"./external/internal/wire FuzzProgress"
	"./external/internal/wire FuzzFromStatus"
	"./faults FuzzRestoreExtract"
	"./internal/ujson FuzzUnmarshal"
	"./internal/ujson FuzzRoundTrip"
)

failed=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	printf '.ci/fuzz.sh: %s %s for %s\n' "$pkg" "$name" "$fuzztime" >&2
	for try in 1 2; do
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" >"$out" 2>&1; then
			grep -v '^fuzz: elapsed' "$out" || true
			break
		fi
		grep -v '^fuzz: elapsed' "$out" || true
		# The go command's fuzzing coordinator can fail a run with a bare
		# "context deadline exceeded" when the time runs out while a worker
		# on a loaded machine has not answered; no input failed then (none
		# was written to testdata/fuzz). Such a run is tried once more; any
		# other failure counts at once.
		if ((try == 1)) && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
			printf '.ci/fuzz.sh: %s %s: the fuzzing coordinator timed out with no failing input; once more\n' "$pkg" "$name" >&2
			continue
		fi
		failed+=("$pkg $name")
		break
	done
done
if ((${#failed[@]} > 0)); then
	printf '.ci/fuzz.sh: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi
printf '.ci/fuzz.sh: %d fuzz targets passed, %s each\n' "${#targets[@]}" "$fuzztime" >&2
