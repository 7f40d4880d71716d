# rigging: build, test and demo targets. `make help` lists them.
#
# Variables:
#   TAGS   build tags for `make build`, e.g. TAGS=rigging_no_csi,rigging_no_aws
#          (see builtin/all: one rigging_no_<package> tag per plugin package)
#   BIN    where `make build` puts the binary (default bin/rigging)

GO     ?= go
# The toolchain every target builds and tests with: go1.26.10 carries the
# standard-library security fixes that govulncheck (.ci/vulncheck.sh) asks
# for. The go command fetches it once from the Go module proxy; set
# GOTOOLCHAIN=local to use whatever Go is on PATH (1.26 or newer) instead.
export GOTOOLCHAIN ?= go1.26.10
BIN    ?= bin/rigging
TAGS   ?=
DEMO   := testdata/demo
# Packages with benchmarks; `make bench BENCH_PKGS=./...` runs every one.
BENCH_PKGS ?= ./manager/... ./builtin/... ./resources/...

.PHONY: help build test testcluster demo demo-cluster proto bench interop lint clean

help:
	@echo "make build    static binary $(BIN) (CGO_ENABLED=0; TAGS=... to drop plugins)"
	@echo "make test     go vet, then every test with the race detector (and the local S3 server, when versitygw is at hand)"
	@echo "make testcluster  kube-apiserver and etcd for the live-cluster tests, in $(TESTCLUSTER_BIN)"
	@echo "make demo     back up the sample cluster to the local store, list it, restore it to a directory"
	@echo "make demo-cluster  back up the test API server's namespace monitoring, restore it into monitoring-restored with --to-cluster"
	@echo "make proto    regenerate the gRPC code of external/ from its .proto files"
	@echo "make bench    Go benchmarks, then rigging vs Velero side by side; rewrites docs/BENCHMARKS.md"
	@echo "make interop  tests against real Velero v1.18 (module interop/)"
	@echo "make lint     gofmt and go vet"

build:
	CGO_ENABLED=0 $(GO) build -trimpath $(if $(TAGS),-tags $(TAGS)) -o $(BIN) ./cmd/rigging

# vet first: a vet failure stops the (longer) test run. -race needs cgo; the
# tests run with the default parallelism (-p = number of CPUs).
# .ci/with-s3.sh runs them with the local S3 server of .ci/s3.sh (versitygw,
# started offline when it is installed or in the module cache, and stopped
# after) so the velero.io/aws tests run; when it cannot, it says which tests
# are skipped and how to run them. RIGGING_S3=skip skips them on purpose.
test:
	$(GO) vet ./...
	bash .ci/with-s3.sh $(GO) test -race -timeout 15m ./...

# testcluster: kube-apiserver and etcd, built from module testcluster/ (its
# own go.mod, so the product's graph stays small) into TESTCLUSTER_BIN, where
# the live-cluster tests (internal/testcluster) look for them; elsewhere, set
# RIGGING_TESTCLUSTER_BIN. About 20 minutes cold on 2 cores; seconds when the
# Go build cache is warm. Without them those tests skip, saying so.
TESTCLUSTER_BIN ?= bin/testcluster
testcluster:
	cd testcluster && $(GO) build -o $(abspath $(TESTCLUSTER_BIN))/ ./cmd/kube-apiserver ./cmd/etcd

demo: build
	@name=demo-$$(date -u +%Y%m%d-%H%M%S); out=$${DEMO_OUT:-$$(mktemp -d)/restored}; set -e; \
	echo "\$$ rigging backup create $$name --from testdata/manifests/cluster-export"; \
	$(BIN) backup create $$name --from testdata/manifests/cluster-export; echo; \
	echo '$$ rigging backup list'; $(BIN) backup list; echo; \
	echo "\$$ rigging restore create $$name-restore --from-backup $$name --to $$out"; \
	$(BIN) restore create $$name-restore --from-backup $$name --to $$out; echo; \
	echo "\$$ ls $$out"; ls $$out

# demo-cluster: run the test API server (the binaries of `make testcluster`,
# or $RIGGING_TESTCLUSTER_BIN) seeded with cluster-export, back up namespace
# monitoring from it, restore it into monitoring-restored with --to-cluster,
# list the restored objects, then stop the server (also on Ctrl-C). The
# store is a temporary RIGGING_HOME, removed at the end.
demo-cluster: build
	@bindir=$${RIGGING_TESTCLUSTER_BIN:-$(abspath $(TESTCLUSTER_BIN))}; \
	test -x $$bindir/kube-apiserver -a -x $$bindir/etcd || { echo "no kube-apiserver and etcd in $$bindir: run 'make testcluster' (or set RIGGING_TESTCLUSTER_BIN)"; exit 1; }
	@$(GO) build -o bin/testcluster-run ./internal/testbin/testcluster
	@RIGGING_TESTCLUSTER_BIN=$${RIGGING_TESTCLUSTER_BIN:-$(abspath $(TESTCLUSTER_BIN))} \
	bin/testcluster-run -seed testdata/manifests/cluster-export -- sh -ec ' \
	export RIGGING_HOME=$$(mktemp -d); trap "rm -rf $$RIGGING_HOME" EXIT; \
	echo "\$$ rigging backup create live --include-namespaces monitoring"; \
	$(BIN) backup create live --include-namespaces monitoring --no-progress; echo; \
	echo "\$$ rigging restore create live-r1 --from-backup live --include-namespaces monitoring --namespace-mappings monitoring:monitoring-restored --to-cluster"; \
	$(BIN) restore create live-r1 --from-backup live --include-namespaces monitoring --namespace-mappings monitoring:monitoring-restored --to-cluster --no-progress; echo; \
	echo "\$$ testcluster list monitoring-restored"; \
	bin/testcluster-run list monitoring-restored'

# proto: protoc from apt (protobuf-compiler) and the pinned plugins
# protoc-gen-go v1.36.12 / protoc-gen-go-grpc v1.6.2 (go install; see the script).
proto:
	sh external/proto/generate.sh

# bench: the Go benchmarks of BENCH_PKGS, then interop/cmd/bench (rigging's
# paths and Velero's, interleaved in one run) on gen-large.sh's items, which
# rewrites docs/benchmarks.json, docs/bench-per-call.svg and the generated
# region of docs/BENCHMARKS.md (BENCH_DOCS= leaves docs alone); then
# interop/cmd/serverrace: rigging against a real Velero server on the test API
# server seeded with the same items (needs the test API server's binaries and
# versitygw, which .ci/s3.sh starts). CI smoke run:
#   make bench BENCH_TIME=1x BENCH_ITEMS=200 BENCH_FLAGS='--rounds 1 --calls 3 --object-mib 1' RACE_FLAGS='--rounds 1' BENCH_DOCS=
BENCH_TIME  ?= 1s
BENCH_ITEMS ?= 10000
BENCH_FLAGS ?=
RACE_FLAGS  ?=
BENCH_DOCS  ?= docs
BENCH_TMP   := $(or $(TMPDIR),/tmp)/rigging-bench-items-$(BENCH_ITEMS)
# Item counts whose backup by $(BIN) is measured for peak RSS (--rss):
# 10 000 and 100 000 at the full size, the smoke size alone otherwise.
BENCH_RSS_ITEMS ?= $(if $(filter 10000,$(BENCH_ITEMS)),10000 100000,$(BENCH_ITEMS))
BENCH_RSS_DIRS  := $(foreach n,$(BENCH_RSS_ITEMS),$(or $(TMPDIR),/tmp)/rigging-bench-items-$(n))
# The same sets backed up from the test API server (seeded once with the
# largest, minutes at 100 000), 1 and 2 workers; BENCH_RSS_CLUSTER= skips.
BENCH_RSS_CLUSTER ?= --rss-cluster --rss-cluster-workers 1,2
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCH_TIME) $(BENCH_PKGS) ./bench/...
	@test -d $(BENCH_TMP) || bash testdata/manifests/gen-large.sh -n $(BENCH_ITEMS) -s 20 $(BENCH_TMP) >/dev/null
	@for n in $(BENCH_RSS_ITEMS); do d=$(or $(TMPDIR),/tmp)/rigging-bench-items-$$n; test -d $$d || bash testdata/manifests/gen-large.sh -n $$n -s 20 $$d >/dev/null; done
	cd interop && $(GO) build -o ../bin/bench ./cmd/bench && $(GO) build -o ../bin/velerochild ./cmd/bench/velerochild
	bin/bench --velero-child bin/velerochild --items $(BENCH_TMP) --rigging $(BIN) $(foreach d,$(BENCH_RSS_DIRS),--rss $(d)) $(BENCH_RSS_CLUSTER) $(if $(BENCH_DOCS),--docs $(BENCH_DOCS)) $(BENCH_FLAGS)
	cd interop && $(GO) build -o ../bin/serverrace ./cmd/serverrace
	eval "$$(bash .ci/s3.sh)" && bin/serverrace --items $(BENCH_TMP) $(if $(BENCH_DOCS),--docs $(BENCH_DOCS)) $(RACE_FLAGS)

# interop: without -race, which would double the (large) Velero build for tests
# that drive subprocesses; the tests build their plugin binaries inside the
# run, so a cold build cache counts against the timeout.
interop:
	cd interop && $(GO) test -timeout 60m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './interop/*')); \
	if [ -n "$$out" ]; then echo "gofmt -l reports:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
