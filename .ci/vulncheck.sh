#!/usr/bin/env bash
# Run govulncheck v1.9.0 on every package of the module and fail when a
# vulnerability is reachable from rigging's code (govulncheck's exit status
# 3). It needs the Go vulnerability database:
#   1. https://vuln.go.dev when it answers (the normal case);
#   2. otherwise an offline copy built from the golang.org/x/vulndb module
#      fetched through the Go module proxy (pinned below; as new as that
#      pseudo-version, so it is announced LOUDLY with its date);
#   3. otherwise nothing: the check is SKIPPED, LOUDLY, and the script exits
#      0 so that a machine without network does not fail CI for that alone.
# Set VULNCHECK_OFFLINE=0 to forbid step 2, VULNCHECK_REQUIRED=1 to make step
# 3 an error.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '.ci/vulncheck.sh: %s\n' "$*" >&2; }
loud() { printf '\n######## .ci/vulncheck.sh: %s ########\n\n' "$*" >&2; }

vulndb_version=v0.0.0-20261105234957-e22db6528018 # golang.org/x/vulndb, data as of 2026-11-05

gobin=$(go env GOPATH)/bin
if ! [[ -x $gobin/govulncheck ]] || ! "$gobin/govulncheck" -version 2>/dev/null | grep -q 'v1.9.0'; then
	log "installing govulncheck v1.9.0"
	go install golang.org/x/vuln/cmd/govulncheck@v1.9.0
fi

db=
if curl -fsS --max-time 10 -o /dev/null https://vuln.go.dev/index/db.json.gz 2>/dev/null; then
	log "vuln.go.dev is reachable: using the live database"
elif [[ ${VULNCHECK_OFFLINE:-1} != 0 ]] &&
	dir=$(go mod download -json "golang.org/x/vulndb@$vulndb_version" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') && [[ -n $dir ]]; then
	out=${TMPDIR:-/tmp}/rigging-vulndb-$vulndb_version
	if ! [[ -f $out/index/db.json ]]; then
		log "building an offline database from golang.org/x/vulndb@$vulndb_version into $out"
		(cd "${TMPDIR:-/tmp}" && go run "golang.org/x/vulndb/cmd/indexdb@$vulndb_version" -vulns "$dir/data/osv" -out "$out")
	fi
	db=file://$out
	loud "vuln.go.dev is NOT reachable: using the OFFLINE database from golang.org/x/vulndb@$vulndb_version (entries up to 2026-11-05); newer advisories are NOT checked"
else
	loud "SKIPPED: vuln.go.dev is not reachable and no offline database could be built; govulncheck did NOT run"
	[[ ${VULNCHECK_REQUIRED:-0} == 1 ]] && exit 1
	exit 0
fi

args=()
[[ -n $db ]] && args+=(-db "$db")
log "govulncheck ${args[*]} ./..."
"$gobin/govulncheck" "${args[@]}" ./...
