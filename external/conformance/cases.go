package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
)

// run dispatches to the cases of the instance's kind.
func run(r *recorder, inst any) {
	switch r.opts.Kind {
	case rigging.KindObjectStore:
		objectStoreCases(r, inst.(rigging.ObjectStore))
	case rigging.KindVolumeSnapshotter:
		volumeSnapshotterCases(r, inst.(rigging.VolumeSnapshotter))
	case rigging.KindBackupItemAction:
		a := inst.(rigging.BackupItemAction)
		appliesTo(r, a.AppliesTo)
		for _, it := range r.opts.Items {
			r.do("Execute "+itemLabel(it), func(ctx context.Context) (any, error) {
				out, extra, err := a.Execute(ctx, it.DeepCopy(), r.opts.Backup)
				r.checkItem("Execute "+itemLabel(it), out)
				return map[string]any{"item": unchanged(out, it), "additional": ids(extra)}, err
			})
		}
	case rigging.KindBackupItemActionV2:
		a := inst.(rigging.BackupItemActionV2)
		checkName(r, a.Name())
		appliesTo(r, a.AppliesTo)
		for _, it := range r.opts.Items {
			var op string
			r.do("Execute "+itemLabel(it), func(ctx context.Context) (any, error) {
				out, extra, opID, post, err := a.Execute(ctx, it.DeepCopy(), r.opts.Backup)
				r.checkItem("Execute "+itemLabel(it), out)
				op = opID
				return map[string]any{"item": unchanged(out, it), "additional": ids(extra), "operationID": opaque(opID), "post": ids(post)}, err
			})
			if op != "" {
				r.do("Progress "+itemLabel(it), func(ctx context.Context) (any, error) {
					p, err := a.Progress(ctx, op, r.opts.Backup)
					return progress(p), err
				})
			}
		}
	case rigging.KindRestoreItemAction:
		a := inst.(rigging.RestoreItemAction)
		appliesTo(r, a.AppliesTo)
		for _, it := range r.opts.Items {
			r.do("Execute "+itemLabel(it), func(ctx context.Context) (any, error) {
				out, err := a.Execute(ctx, restoreInput(r, it))
				return restoreOutput(r, it, out, false), err
			})
		}
	case rigging.KindRestoreItemActionV2:
		a := inst.(rigging.RestoreItemActionV2)
		checkName(r, a.Name())
		appliesTo(r, a.AppliesTo)
		for _, it := range r.opts.Items {
			var out *rigging.RestoreItemActionExecuteOutput
			r.do("Execute "+itemLabel(it), func(ctx context.Context) (v any, err error) {
				out, err = a.Execute(ctx, restoreInput(r, it))
				return restoreOutput(r, it, out, true), err
			})
			if out == nil {
				continue
			}
			if out.OperationID != "" {
				r.do("Progress "+itemLabel(it), func(ctx context.Context) (any, error) {
					p, err := a.Progress(ctx, out.OperationID, r.opts.Restore)
					return progress(p), err
				})
			}
			if out.WaitForAdditionalItems {
				r.do("AreAdditionalItemsReady "+itemLabel(it), func(ctx context.Context) (any, error) {
					return a.AreAdditionalItemsReady(ctx, out.AdditionalItems, r.opts.Restore)
				})
			}
		}
	case rigging.KindDeleteItemAction:
		a := inst.(rigging.DeleteItemAction)
		appliesTo(r, a.AppliesTo)
		for _, it := range r.opts.Items {
			r.do("Execute "+itemLabel(it), func(ctx context.Context) (any, error) {
				return nil, a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: it.DeepCopy(), Backup: r.opts.Backup})
			})
		}
	case rigging.KindItemBlockAction:
		a := inst.(rigging.ItemBlockAction)
		checkName(r, a.Name())
		appliesTo(r, a.AppliesTo)
		for _, it := range r.opts.Items {
			r.do("GetRelatedItems "+itemLabel(it), func(ctx context.Context) (any, error) {
				related, err := a.GetRelatedItems(ctx, it.DeepCopy(), r.opts.Backup)
				return ids(related), err
			})
		}
	}
}

// opaque reduces a plugin-chosen value (an operation ID may hold a time or
// a random part) to whether it is set.
func opaque(s string) string {
	if s == "" {
		return ""
	}
	return "<set>"
}

func checkName(r *recorder, got string) {
	if got != string(r.opts.Name) {
		r.fail("Name", "Name() = %q, want %q", got, r.opts.Name)
	}
}

func appliesTo(r *recorder, fn func(context.Context) (rigging.ResourceSelector, error)) {
	r.do("AppliesTo", func(ctx context.Context) (any, error) {
		sel, err := fn(ctx)
		return selector(sel), err
	})
}

// unchanged normalises "nil means unchanged" to the input item, which is
// what a response on the wire carries.
func unchanged(out, in *unstructured.Unstructured) any {
	if out == nil {
		return item(in)
	}
	return item(out)
}

func restoreInput(r *recorder, it *unstructured.Unstructured) *rigging.RestoreItemActionExecuteInput {
	return &rigging.RestoreItemActionExecuteInput{Item: it.DeepCopy(), ItemFromBackup: it.DeepCopy(), Restore: r.opts.Restore}
}

func restoreOutput(r *recorder, in *unstructured.Unstructured, out *rigging.RestoreItemActionExecuteOutput, v2 bool) any {
	if out == nil {
		out = &rigging.RestoreItemActionExecuteOutput{}
	}
	r.checkItem("Execute "+itemLabel(in), out.UpdatedItem)
	res := map[string]any{"item": unchanged(out.UpdatedItem, in), "additional": ids(out.AdditionalItems), "skip": out.SkipRestore}
	if v2 {
		res["operationID"] = opaque(out.OperationID)
		res["wait"] = out.WaitForAdditionalItems
		res["timeout"] = out.AdditionalItemsReadyTimeout.String()
	}
	return res
}

func objectStoreCases(r *recorder, s rigging.ObjectStore) {
	if err := r.do("Init", func(ctx context.Context) (any, error) { return nil, s.Init(ctx, r.opts.Config) }); err != nil {
		r.fail("Init", "%v (the remaining cases need an initialised store)", err)
		return
	}
	b := r.opts.Bucket
	prefix := "conformance-" + r.transport + "/"
	rel := func(keys []string) []string {
		var out []string
		for _, k := range keys {
			if s, ok := strings.CutPrefix(k, prefix); ok {
				out = append(out, s)
			}
		}
		return sortedCopy(out)
	}
	body := bytes.Repeat([]byte("rigging conformance\n"), 3000) // 60000 bytes: four 16 KiB chunks
	// piped goes through an os.Pipe, as `rigging store put KEY -` reads
	// stdin: a body that cannot seek, larger than a pipe's buffer and than
	// the data path's inline limit.
	const piped = "backups/b1/piped.log"
	objects := map[string][]byte{"backups/b1/b1.tar.gz": body, "backups/b1/empty.json": nil, "backups/b2/velero-backup.json": []byte(`{"kind":"Backup"}`),
		piped: bytes.Repeat([]byte("rigging conformance, through a pipe\n"), 6000)}
	for _, k := range sortedKeys(objects) {
		r.do("PutObject "+k, func(ctx context.Context) (any, error) {
			if k == piped {
				err := putFromPipe(ctx, s, b, prefix+k, objects[k])
				if err != nil {
					r.fail("PutObject "+k, "a body read from a pipe must upload: %v", err)
				}
				return nil, err
			}
			return nil, s.PutObject(ctx, b, prefix+k, bytes.NewReader(objects[k]))
		})
	}
	for _, k := range append(sortedKeys(objects), "backups/missing") {
		r.do("ObjectExists "+k, func(ctx context.Context) (any, error) { return s.ObjectExists(ctx, b, prefix+k) })
		r.do("GetObject "+k, func(ctx context.Context) (any, error) {
			rc, err := s.GetObject(ctx, b, prefix+k)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if want, ok := objects[k]; ok && err == nil && !bytes.Equal(got, want) {
				r.fail("GetObject "+k, "read %d bytes, want the %d stored", len(got), len(want))
			}
			return len(got), err
		})
	}
	r.do("GetObject early close", func(ctx context.Context) (any, error) {
		rc, err := s.GetObject(ctx, b, prefix+"backups/b1/b1.tar.gz")
		if err != nil {
			return nil, err
		}
		buf := make([]byte, 10)
		_, err = io.ReadFull(rc, buf)
		rc.Close()
		return string(buf), err
	})
	r.do("ListObjects", func(ctx context.Context) (any, error) {
		keys, err := s.ListObjects(ctx, b, prefix+"backups/")
		return rel(keys), err
	})
	r.do("ListCommonPrefixes", func(ctx context.Context) (any, error) {
		p, err := s.ListCommonPrefixes(ctx, b, prefix+"backups/", "/")
		if err == nil && !slices.Contains(p, prefix+"backups/b1/") {
			r.fail("ListCommonPrefixes", "got %q, want %q among them", p, prefix+"backups/b1/")
		}
		return rel(p), err
	})
	r.do("CreateSignedURL", func(ctx context.Context) (any, error) {
		u, err := s.CreateSignedURL(ctx, b, prefix+"backups/b2/velero-backup.json", 10*time.Minute)
		if err == nil && u == "" {
			r.fail("CreateSignedURL", "empty URL without an error")
		}
		return nil, err // URLs embed keys and signatures: compare the outcome only
	})
	for _, k := range append(sortedKeys(objects), "backups/missing") {
		r.do("DeleteObject "+k, func(ctx context.Context) (any, error) { return nil, s.DeleteObject(ctx, b, prefix+k) })
	}
	r.do("ListObjects after delete", func(ctx context.Context) (any, error) {
		keys, err := s.ListObjects(ctx, b, prefix)
		return rel(keys), err
	})
}

// putFromPipe stores data under key, read from the read end of an os.Pipe.
func putFromPipe(ctx context.Context, s rigging.ObjectStore, bucket, key string, data []byte) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := pw.Write(data)
		wrote <- errors.Join(err, pw.Close())
	}()
	err = s.PutObject(ctx, bucket, key, pr)
	pr.Close() // a writer still blocked (the put gave up early) fails
	if werr := <-wrote; err == nil && werr != nil {
		err = fmt.Errorf("write the pipe: %w", werr)
	}
	return err
}

func sortedKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func volumeSnapshotterCases(r *recorder, v rigging.VolumeSnapshotter) {
	if err := r.do("Init", func(ctx context.Context) (any, error) { return nil, v.Init(ctx, r.opts.Config) }); err != nil {
		r.fail("Init", "%v (the remaining cases need an initialised snapshotter)", err)
		return
	}
	for _, it := range r.opts.Items {
		if it.GetKind() != "PersistentVolume" {
			continue
		}
		name := fmt.Sprintf("GetVolumeID %s", it.GetName())
		var id string
		r.do(name, func(ctx context.Context) (v2 any, err error) {
			id, err = v.GetVolumeID(ctx, it.DeepCopy())
			return id, err
		})
		if id == "" {
			continue
		}
		r.do("SetVolumeID "+it.GetName(), func(ctx context.Context) (any, error) {
			out, err := v.SetVolumeID(ctx, it.DeepCopy(), id+"-conformance")
			if err != nil {
				return nil, err
			}
			r.checkItem("SetVolumeID", out)
			got, err := v.GetVolumeID(ctx, out)
			if err == nil && got != id+"-conformance" {
				r.fail("SetVolumeID "+it.GetName(), "GetVolumeID of the result = %q, want %q", got, id+"-conformance")
			}
			return item(out), err
		})
	}
}
