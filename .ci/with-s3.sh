#!/usr/bin/env bash
# Run a command (`make test` runs its go test through this) with the local S3
# server of .ci/s3.sh, so the velero.io/aws integration tests run instead of
# skipping:
#
#   bash .ci/with-s3.sh go test ./...
#
# - RIGGING_S3_ENDPOINT already set (CI's .ci/run, or your own
#   `eval "$(bash .ci/s3.sh)"`): the command runs with it, nothing is started.
# - Otherwise .ci/s3.sh starts versitygw, offline (the module cache is the
#   only GOPROXY): with the binary on PATH or in $(go env GOPATH)/bin, or
#   built from the module cache when its modules are there (a few minutes,
#   once). A server started here is stopped when the command ends; one that
#   was already running is reused and left running.
# - When it cannot (versitygw neither installed nor in the module cache, or
#   RIGGING_S3=skip), the command runs without it and this script says, before
#   and after, which tests are skipped and the command that runs them.
#
# Exits with the command's status.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf 'with-s3.sh: %s\n' "$*" >&2; }
# An interrupt still runs the EXIT trap (which stops the server started here).
trap 'exit 130' INT
trap 'exit 143' TERM

# The tests that need the server (they skip when RIGGING_S3_ENDPOINT is
# unset): providers/aws's TestS3*, TestBackupStorageLocation and TestParity,
# and faults' TestCredentialsNeverLeak against a real server.
skipped() {
	cat >&2 <<EOF

with-s3.sh: SKIPPED: the S3 integration tests, which need a local S3 server ($1):
with-s3.sh:   providers/aws: TestS3EveryMethod TestS3PaginationPast1000 TestS3SignedURL TestS3WrongCredentials
with-s3.sh:                  TestS3MissingBucket TestS3FailedPutLeavesNothing TestS3LargeObject TestBackupStorageLocation
with-s3.sh:                  TestParity
with-s3.sh:   faults: TestCredentialsNeverLeak (its case against a real server)
with-s3.sh: Run them with (.ci/s3.sh installs versitygw with go install, from the network, once):
with-s3.sh:   eval "\$(bash .ci/s3.sh)" && make test
with-s3.sh: or only them:
with-s3.sh:   eval "\$(bash .ci/s3.sh)" && go test -race ./providers/aws/ ./faults/

EOF
}

if [[ -n ${RIGGING_S3_ENDPOINT:-} ]]; then
	exec "$@"
fi

reason=
if [[ ${RIGGING_S3:-} == skip ]]; then
	reason="RIGGING_S3=skip"
else
	state=${RIGGING_S3_STATE:-${TMPDIR:-/tmp}/rigging-s3}
	running=
	if [[ -f $state/pid ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
		running=1
	fi
	errlog=$(mktemp)
	trap 'rm -f "$errlog"' EXIT
	# Offline: the module cache's download directory is the only proxy, so
	# a versitygw whose modules are cached builds, and any other fails fast.
	modcache=$(go env GOMODCACHE)
	if exports=$(GOPROXY="file://$modcache/cache/download" bash .ci/s3.sh 2>"$errlog"); then
		eval "$exports"
		cat "$errlog" >&2
		if [[ -z $running ]]; then
			pid=$(cat "$state/pid")
			trap 'rm -f "$errlog"; kill "$pid" 2>/dev/null || true' EXIT
		fi
		log "running with the S3 server at $RIGGING_S3_ENDPOINT"
	else
		reason="versitygw is not installed, and not in the module cache to build offline"
		log "$(grep -v '^\s*$' "$errlog" | tail -n 1)"
	fi
fi

if [[ -n $reason ]]; then
	skipped "$reason"
fi
"$@"
status=$?
if [[ -n $reason ]]; then
	skipped "$reason"
fi
exit "$status"
