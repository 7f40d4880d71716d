package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/rigging-dev/rigging/bench/fixture"
	"github.com/rigging-dev/rigging/external/generated"
	"github.com/rigging-dev/rigging/external/plugin"
)

// Ideal is the name of the per-call result of the ideal host on a plugin
// ("ideal-velero": the ideal host calling the Velero-framework plugin).
func Ideal(plugin string) string { return "ideal-" + plugin }

// IdealCall returns one Execute of ActionName by the cheapest host
// possible on Velero's wire: it starts binary with go-plugin (Velero's
// handshake, no TLS, no log parsing), sends ExecuteRequest bytes encoded
// once, and takes the response bytes without decoding them. No host can do
// less per call over gRPC, so Velero's host time divided by this one bounds
// the speed-up any host (rigging's included) can reach on that plugin.
// close stops the plugin process.
func IdealCall(binary string) (call func() error, close func(), err error) {
	req, err := proto.Marshal(&generated.ExecuteRequest{Plugin: ActionName,
		Item: fixture.Compact(fixture.PodJSON), Backup: fixture.Compact(fixture.BackupJSON)})
	if err != nil {
		return nil, nil, err
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  plugin.Handshake,
		Plugins:          goplugin.PluginSet{"velero": rawPlugin{}},
		Cmd:              exec.Command(binary),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard}), // go-plugin skips the plugin's log lines
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, nil, fmt.Errorf("ideal host: start %s: %w", binary, err)
	}
	gc, ok := rpc.(*goplugin.GRPCClient)
	if !ok {
		client.Kill()
		return nil, nil, fmt.Errorf("ideal host: %s: not a gRPC plugin", binary)
	}
	cc := gc.Conn
	ctx := context.Background()
	call = func() error {
		var res []byte
		if err := cc.Invoke(ctx, "/generated.BackupItemAction/Execute", &req, &res, grpc.ForceCodecV2(rawCodec{})); err != nil {
			return fmt.Errorf("ideal host: Execute: %w", err)
		}
		if len(res) == 0 {
			return fmt.Errorf("ideal host: Execute: empty response")
		}
		return nil
	}
	if err := call(); err != nil {
		client.Kill()
		return nil, nil, err
	}
	return call, client.Kill, nil
}

// onlyBinary returns the one file in dir, or "" when there are several.
func onlyBinary(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || ents[0].IsDir() {
		return ""
	}
	return filepath.Join(dir, ents[0].Name())
}

// rawPlugin is the go-plugin client half of the ideal host: the
// connection itself.
type rawPlugin struct{ goplugin.Plugin }

func (rawPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error { return nil }

func (rawPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return cc, nil
}

// rawCodec passes message bytes through: *[]byte out as they are, and in
// as one copy.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }
