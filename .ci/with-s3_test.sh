#!/usr/bin/env bash
# Tests of .ci/with-s3.sh and of `make test` using it, with a stand-in for
# versitygw (python3's http.server: s3.sh only needs something that answers
# HTTP), so they take seconds and need no network:
#
#   bash .ci/with-s3_test.sh
#
# Checks that make test goes through with-s3.sh; that a server it starts is
# seen by the command and stopped after it; that one already running is
# reused and left running; and that without versitygw the command still runs
# and the output names the skipped tests and the command that runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || { echo "with-s3_test.sh: SKIPPED: needs python3 for the stand-in server"; exit 0; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# stopped PID: true once PID has exited (bounded wait: 10 s).
stopped() {
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

mkdir -p "$tmp/bin" "$tmp/nomods"
cat >"$tmp/bin/versitygw" <<'EOF'
#!/bin/sh
# Stand-in: versitygw --port 127.0.0.1:PORT --quiet posix DIR
exec python3 -m http.server --bind 127.0.0.1 "${2##*:}"
EOF
chmod +x "$tmp/bin/versitygw"
# PATH without any real versitygw.
nogw=$(printf '%s\n' "${PATH//:/$'\n'}" | while read -r d; do [[ -x $d/versitygw ]] || printf '%s:' "$d"; done)
nogw=${nogw%:}

# 1. make test runs go test through with-s3.sh.
if ! make -n test | grep -q 'bash .ci/with-s3.sh .* test -race'; then
	fail "make test does not run its tests through .ci/with-s3.sh: $(make -n test | tr '\n' ' ')"
fi

# 2. A server started here is seen by the command and stopped after it.
out=$(env -u RIGGING_S3_ENDPOINT PATH="$tmp/bin:$nogw" RIGGING_S3_STATE="$tmp/s1" \
	bash .ci/with-s3.sh sh -c 'curl -s -o /dev/null -w "%{http_code}" "$RIGGING_S3_ENDPOINT/"; exit 7' 2>"$tmp/err") && status=0 || status=$?
pid=$(cat "$tmp/s1/pid")
pids+=("$pid")
[[ $status -eq 7 ]] || fail "started: exit status $status, want the command's 7"
[[ $out == 200 ]] || fail "started: the command did not reach the server (got '$out'); stderr: $(cat "$tmp/err")"
stopped "$pid" || fail "started: the server (pid $pid) still runs after the command"

# 3. A server already running is reused and left running.
env -u RIGGING_S3_ENDPOINT PATH="$tmp/bin:$nogw" RIGGING_S3_STATE="$tmp/s2" bash .ci/s3.sh >"$tmp/exports" 2>/dev/null
pid=$(cat "$tmp/s2/pid")
pids+=("$pid")
want=$(sed -n 's/^export RIGGING_S3_ENDPOINT=//p' "$tmp/exports")
out=$(env -u RIGGING_S3_ENDPOINT PATH="$tmp/bin:$nogw" RIGGING_S3_STATE="$tmp/s2" \
	bash .ci/with-s3.sh sh -c 'echo "$RIGGING_S3_ENDPOINT"' 2>/dev/null)
[[ $out == "$want" ]] || fail "reuse: endpoint '$out', want the running server's '$want'"
kill -0 "$pid" 2>/dev/null || fail "reuse: the server that was running before (pid $pid) was stopped"

# 4. No versitygw, and none in the module cache: the command runs, and the
# output says what is skipped and how to run it, after the command's output.
out=$(env -u RIGGING_S3_ENDPOINT PATH="$nogw" GOTOOLCHAIN=local GOMODCACHE="$tmp/nomods" GOBIN="$tmp/gobin" \
	RIGGING_S3_STATE="$tmp/s3" bash .ci/with-s3.sh sh -c 'echo COMMAND RAN' 2>&1) && status=0 || status=$?
[[ $status -eq 0 ]] || fail "no versitygw: exit status $status, want 0"
for want in 'COMMAND RAN' 'SKIPPED: the S3 integration tests' 'TestS3EveryMethod' 'eval "$(bash .ci/s3.sh)" && make test'; do
	[[ $out == *"$want"* ]] || fail "no versitygw: output lacks '$want':
$out"
done
[[ ${out##*COMMAND RAN} == *SKIPPED* ]] || fail "no versitygw: the notice is not repeated after the command's output"

if ((fails > 0)); then
	echo "with-s3_test.sh: $fails failures" >&2
	exit 1
fi
echo "with-s3_test.sh: ok"
