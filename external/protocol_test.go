package external_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/rigging-dev/rigging/external/generated"
	biav2 "github.com/rigging-dev/rigging/external/generated/backupitemaction/v2"
	ibav1 "github.com/rigging-dev/rigging/external/generated/itemblockaction/v1"
	riav2 "github.com/rigging-dev/rigging/external/generated/restoreitemaction/v2"
)

// TestWireMethods checks, from the generated descriptors, every full method
// name, its streaming mode and its message types against Velero v1.18's
// protocol (velero-protocol.md §2), and the descriptor file path of each
// service.
func TestWireMethods(t *testing.T) {
	// Reference the packages so their descriptors are registered.
	_ = generated.File_ObjectStore_proto
	_ = biav2.File_backupitemaction_v2_BackupItemAction_proto
	_ = riav2.File_restoreitemaction_v2_RestoreItemAction_proto
	_ = ibav1.File_itemblockaction_v1_ItemBlockAction_proto

	want := []string{
		"BackupItemAction.proto /generated.BackupItemAction/AppliesTo generated.BackupItemActionAppliesToRequest generated.BackupItemActionAppliesToResponse",
		"BackupItemAction.proto /generated.BackupItemAction/Execute generated.ExecuteRequest generated.ExecuteResponse",
		"DeleteItemAction.proto /generated.DeleteItemAction/AppliesTo generated.DeleteItemActionAppliesToRequest generated.DeleteItemActionAppliesToResponse",
		"DeleteItemAction.proto /generated.DeleteItemAction/Execute generated.DeleteItemActionExecuteRequest generated.Empty",
		"ObjectStore.proto /generated.ObjectStore/CreateSignedURL generated.CreateSignedURLRequest generated.CreateSignedURLResponse",
		"ObjectStore.proto /generated.ObjectStore/DeleteObject generated.DeleteObjectRequest generated.Empty",
		"ObjectStore.proto /generated.ObjectStore/GetObject generated.GetObjectRequest stream generated.Bytes",
		"ObjectStore.proto /generated.ObjectStore/Init generated.ObjectStoreInitRequest generated.Empty",
		"ObjectStore.proto /generated.ObjectStore/ListCommonPrefixes generated.ListCommonPrefixesRequest generated.ListCommonPrefixesResponse",
		"ObjectStore.proto /generated.ObjectStore/ListObjects generated.ListObjectsRequest generated.ListObjectsResponse",
		"ObjectStore.proto /generated.ObjectStore/ObjectExists generated.ObjectExistsRequest generated.ObjectExistsResponse",
		"ObjectStore.proto /generated.ObjectStore/PutObject stream generated.PutObjectRequest generated.Empty",
		"PluginLister.proto /generated.PluginLister/ListPlugins generated.Empty generated.ListPluginsResponse",
		"RestoreItemAction.proto /generated.RestoreItemAction/AppliesTo generated.RestoreItemActionAppliesToRequest generated.RestoreItemActionAppliesToResponse",
		"RestoreItemAction.proto /generated.RestoreItemAction/Execute generated.RestoreItemActionExecuteRequest generated.RestoreItemActionExecuteResponse",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/CreateSnapshot generated.CreateSnapshotRequest generated.CreateSnapshotResponse",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/CreateVolumeFromSnapshot generated.CreateVolumeRequest generated.CreateVolumeResponse",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/DeleteSnapshot generated.DeleteSnapshotRequest generated.Empty",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/GetVolumeID generated.GetVolumeIDRequest generated.GetVolumeIDResponse",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/GetVolumeInfo generated.GetVolumeInfoRequest generated.GetVolumeInfoResponse",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/Init generated.VolumeSnapshotterInitRequest generated.Empty",
		"VolumeSnapshotter.proto /generated.VolumeSnapshotter/SetVolumeID generated.SetVolumeIDRequest generated.SetVolumeIDResponse",
		"itemblockaction/v1/ItemBlockAction.proto /v1.ItemBlockAction/AppliesTo v1.ItemBlockActionAppliesToRequest v1.ItemBlockActionAppliesToResponse",
		"itemblockaction/v1/ItemBlockAction.proto /v1.ItemBlockAction/GetRelatedItems v1.ItemBlockActionGetRelatedItemsRequest v1.ItemBlockActionGetRelatedItemsResponse",
		"backupitemaction/v2/BackupItemAction.proto /v2.BackupItemAction/AppliesTo v2.BackupItemActionAppliesToRequest v2.BackupItemActionAppliesToResponse",
		"backupitemaction/v2/BackupItemAction.proto /v2.BackupItemAction/Cancel v2.BackupItemActionCancelRequest google.protobuf.Empty",
		"backupitemaction/v2/BackupItemAction.proto /v2.BackupItemAction/Execute v2.ExecuteRequest v2.ExecuteResponse",
		"backupitemaction/v2/BackupItemAction.proto /v2.BackupItemAction/Progress v2.BackupItemActionProgressRequest v2.BackupItemActionProgressResponse",
		"restoreitemaction/v2/RestoreItemAction.proto /v2.RestoreItemAction/AppliesTo v2.RestoreItemActionAppliesToRequest v2.RestoreItemActionAppliesToResponse",
		"restoreitemaction/v2/RestoreItemAction.proto /v2.RestoreItemAction/AreAdditionalItemsReady v2.RestoreItemActionItemsReadyRequest v2.RestoreItemActionItemsReadyResponse",
		"restoreitemaction/v2/RestoreItemAction.proto /v2.RestoreItemAction/Cancel v2.RestoreItemActionCancelRequest google.protobuf.Empty",
		"restoreitemaction/v2/RestoreItemAction.proto /v2.RestoreItemAction/Execute v2.RestoreItemActionExecuteRequest v2.RestoreItemActionExecuteResponse",
		"restoreitemaction/v2/RestoreItemAction.proto /v2.RestoreItemAction/Progress v2.RestoreItemActionProgressRequest v2.RestoreItemActionProgressResponse",
	}
	var got []string
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		switch fd.Package() {
		case "generated", "v1", "v2":
		default:
			return true
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			s := svcs.Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				in, out := string(m.Input().FullName()), string(m.Output().FullName())
				if m.IsStreamingClient() {
					in = "stream " + in
				}
				if m.IsStreamingServer() {
					out = "stream " + out
				}
				got = append(got, fmt.Sprintf("%s /%s/%s %s %s", fd.Path(), s.FullName(), m.Name(), in, out))
			}
		}
		return true
	})
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("methods differ from Velero's\n got: %q\nwant: %q", got, want)
	}
}

// TestWireFields spot-checks field names, numbers and kinds where a slip
// would silently break compatibility: the swapped delimiter/prefix numbers,
// the capitalised ResourceSelector field, the Stack detail's name.
func TestWireFields(t *testing.T) {
	tests := []struct {
		msg   protoreflect.ProtoMessage
		field string
		num   protoreflect.FieldNumber
		kind  protoreflect.Kind
	}{
		{&generated.ListCommonPrefixesRequest{}, "delimiter", 3, protoreflect.StringKind},
		{&generated.ListCommonPrefixesRequest{}, "prefix", 4, protoreflect.StringKind},
		{&generated.BackupItemActionAppliesToResponse{}, "ResourceSelector", 1, protoreflect.MessageKind},
		{&biav2.BackupItemActionAppliesToResponse{}, "ResourceSelector", 1, protoreflect.MessageKind},
		{&generated.CreateSignedURLRequest{}, "ttl", 4, protoreflect.Int64Kind},
		{&generated.CreateVolumeRequest{}, "iops", 5, protoreflect.Int64Kind},
		{&generated.PutObjectRequest{}, "body", 4, protoreflect.BytesKind},
		{&generated.StackFrame{}, "line", 2, protoreflect.Int32Kind},
		{&generated.RestoreItemActionExecuteRequest{}, "itemFromBackup", 4, protoreflect.BytesKind},
		{&riav2.RestoreItemActionExecuteResponse{}, "additionalItemsReadyTimeout", 6, protoreflect.MessageKind},
		{&riav2.RestoreItemActionItemsReadyRequest{}, "additionalItems", 3, protoreflect.MessageKind},
		{&biav2.ExecuteResponse{}, "postOperationItems", 4, protoreflect.MessageKind},
		{&ibav1.ItemBlockActionGetRelatedItemsResponse{}, "relatedItems", 1, protoreflect.MessageKind},
		{&generated.OperationProgress{}, "updated", 8, protoreflect.MessageKind},
	}
	for _, tt := range tests {
		md := tt.msg.ProtoReflect().Descriptor()
		f := md.Fields().ByName(protoreflect.Name(tt.field))
		if f == nil {
			t.Errorf("%s: no field %s", md.FullName(), tt.field)
			continue
		}
		if f.Number() != tt.num || f.Kind() != tt.kind {
			t.Errorf("%s.%s = #%d %v, want #%d %v", md.FullName(), tt.field, f.Number(), f.Kind(), tt.num, tt.kind)
		}
	}
	if got := (&generated.Stack{}).ProtoReflect().Descriptor().FullName(); got != "generated.Stack" {
		t.Errorf("Stack full name = %s, want generated.Stack", got)
	}
}
