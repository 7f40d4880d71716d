#!/usr/bin/env bash
# Start a local S3 server (versitygw, posix backend) for the velero.io/aws
# tests and print the variables they read, as `export` lines:
#
#   eval "$(bash .ci/s3.sh)"
#
# Prints RIGGING_S3_ENDPOINT, RIGGING_S3_ACCESS_KEY, RIGGING_S3_SECRET_KEY and
# RIGGING_S3_REGION, and nothing else on stdout. Installs versitygw with
# `go install` when it is not on PATH or in $(go env GOPATH)/bin (a cold build
# takes about two minutes). Idempotent: when the server this script started
# before is still answering, it prints the same exports again.
#
# State (pid, env, data, log) lives in $RIGGING_S3_STATE, default
# ${TMPDIR:-/tmp}/rigging-s3. Stop the server with:
#   kill "$(cat "${TMPDIR:-/tmp}/rigging-s3/pid")"
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
state=${RIGGING_S3_STATE:-${TMPDIR:-/tmp}/rigging-s3}
mkdir -p "$state"

log() { printf 's3.sh: %s\n' "$*" >&2; }

# answers PORT: true when something accepts HTTP on 127.0.0.1:PORT.
answers() {
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null
}

# Reuse the running server.
if [[ -f $state/env && -f $state/pid ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
	# shellcheck disable=SC1091
	port=$(. "$state/env" && echo "${RIGGING_S3_ENDPOINT##*:}")
	if answers "$port"; then
		sed 's/^/export /' "$state/env"
		exit 0
	fi
	kill "$(cat "$state/pid")" 2>/dev/null || true
fi

bin=$(command -v versitygw || true)
if [[ -z $bin ]]; then
	gobin=$(go env GOBIN)
	[[ -n $gobin ]] || gobin=$(go env GOPATH)/bin
	bin=$gobin/versitygw
	if [[ ! -x $bin ]]; then
		log "installing versitygw $VERSITYGW_VERSION (go install; takes a few minutes on a cold cache)"
		start=$SECONDS
		go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
		log "installed $bin in $((SECONDS - start))s"
	fi
fi

# A free port: one nothing answers on. bash's /dev/tcp connect fails fast on
# a closed local port.
port=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
[[ -n $port ]] || { log "no free port found"; exit 1; }

access=rigging-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
data=$state/data
rm -rf "$data"
mkdir -p "$data"

ROOT_ACCESS_KEY=$access ROOT_SECRET_KEY=$secret nohup "$bin" --port "127.0.0.1:$port" --quiet posix "$data" \
	>"$state/versitygw.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$state/pid"

# Wait (bounded: about 30 s) until it answers HTTP.
up=
for _ in $(seq 1 300); do
	if answers "$port"; then
		up=1
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		log "versitygw exited; its log ($state/versitygw.log):"
		cat "$state/versitygw.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ -z $up ]]; then
	log "versitygw did not answer on 127.0.0.1:$port within 30s; log: $state/versitygw.log"
	kill "$pid" 2>/dev/null || true
	exit 1
fi

cat >"$state/env" <<EOF
RIGGING_S3_ENDPOINT=http://127.0.0.1:$port
RIGGING_S3_ACCESS_KEY=$access
RIGGING_S3_SECRET_KEY=$secret
RIGGING_S3_REGION=us-east-1
EOF
chmod 600 "$state/env"
log "versitygw (pid $pid) serving $data on 127.0.0.1:$port"
sed 's/^/export /' "$state/env"
