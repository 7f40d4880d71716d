#!/bin/sh
# Regenerates the Go code of Velero's plugin protocol from external/proto.
# Run from the module root (make proto does). Needs protoc (apt
# protobuf-compiler) and the pinned plugins:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# The .proto paths relative to external/proto are the descriptor names Velero
# uses (ObjectStore.proto, backupitemaction/v2/BackupItemAction.proto, ...).
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
rm -rf ../generated
protoc -I . \
	--go_out=.. --go_opt=module=github.com/rigging-dev/rigging/external \
	--go-grpc_out=.. --go-grpc_opt=module=github.com/rigging-dev/rigging/external \
	--go-grpc_opt=require_unimplemented_servers=false \
	$(find . -name '*.proto' | sed 's|^\./||' | sort)
