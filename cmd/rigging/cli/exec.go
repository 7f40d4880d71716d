package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/manager"
	"github.com/rigging-dev/rigging/manifest"
	"github.com/rigging-dev/rigging/registry"
	"github.com/rigging-dev/rigging/resources"
)

// The Backup and Restore exec passes when none is given.
const (
	execObjectName = "rigging-exec"
	veleroNS       = "velero"
	veleroAPI      = "velero.io/v1"
)

type execFlags struct {
	item, itemFromBackup, backup, restore string
	context                               []string
}

// itemKinds are the kinds exec runs, with whether they take a Backup (else a
// Restore).
var itemKinds = map[rigging.Kind]bool{
	rigging.KindBackupItemAction:    true,
	rigging.KindBackupItemActionV2:  true,
	rigging.KindItemBlockAction:     true,
	rigging.KindDeleteItemAction:    true,
	rigging.KindRestoreItemAction:   false,
	rigging.KindRestoreItemActionV2: false,
}

func newExecCommand(g *globalFlags) *cobra.Command {
	var f execFlags
	cmd := &cobra.Command{
		Use:   "exec KIND NAME --item FILE [--backup FILE | --restore FILE] [--item-from-backup FILE] [--context PATH]...",
		Short: "Run one item action on one item and print the full result as JSON",
		Long: `Run one plugin of an item-action kind on one item, as a backup or restore would,
and print everything it returned as one JSON object.

KIND is the wire kind: BackupItemAction, BackupItemActionV2, RestoreItemAction,
RestoreItemActionV2, DeleteItemAction or ItemBlockAction. A v1 action may be run
as its v2 kind. NAME is the plugin's name ("pod" means velero.io/pod). A kind
or name rigging has no plugin for is a usage error (exit 2) naming the closest
known plugin names.

--item is a YAML or JSON file holding exactly one object ("-" reads stdin).
Backup kinds receive --backup (a velero.io/v1 Backup), restore kinds --restore
(a velero.io/v1 Restore) and --item-from-backup (the object as stored in the
backup; default: the item itself). Without them, exec passes a Backup or
Restore named rigging-exec in namespace velero with an empty spec.

--context names manifest files or directories (repeatable) holding the other
objects the action may look up, as it would see them during a backup or
restore: the bindings of a service account, the pods that mount a claim. The
item itself is always among them.

Output keys: kind, name, selector (what AppliesTo returned), appliesToItem
(whether Velero would call the action on this item), and per kind:
  BackupItemAction     item, additionalItems
  BackupItemActionV2   item, additionalItems, operationID, postOperationItems
  RestoreItemAction    item, additionalItems, skipRestore
  RestoreItemActionV2  item, additionalItems, skipRestore, operationID,
                       waitForAdditionalItems, additionalItemsReadyTimeout
  ItemBlockAction      relatedItems
  DeleteItemAction     (nothing more: it only releases what the item holds)
Identifiers are objects with the keys group, resource, namespace and name.`,
		Example: `  rigging exec BackupItemAction velero.io/pod --item pod.yaml --context manifests/
  rigging exec RestoreItemAction service --item svc.yaml
  kubectl get pod web-0 -o yaml | rigging exec ItemBlockAction pod --item -`,
		Args: args(cobra.ExactArgs(2)),
		ValidArgsFunction: func(_ *cobra.Command, a []string, _ string) ([]string, cobra.ShellCompDirective) {
			switch len(a) {
			case 0:
				var kinds []string
				for _, k := range rigging.Kinds() {
					if _, ok := itemKinds[k]; ok {
						kinds = append(kinds, k.String())
					}
				}
				return kinds, cobra.ShellCompDirectiveNoFileComp
			case 1:
				var names []string
				for _, e := range registry.Default.List(rigging.Kind(a[0])) {
					names = append(names, e.Name.String())
				}
				return names, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			kind, err := f.validate(a[0])
			if err != nil {
				return err
			}
			name, err := rigging.ParseName(a[1])
			if err != nil {
				return asUsage(err)
			}
			m, err := newManager(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer m.Close()
			action, err := getAction(cmd.Context(), m, kind, name)
			if err != nil {
				return err
			}
			in, err := f.load(cmd.InOrStdin(), g)
			if err != nil {
				return err
			}
			res, err := runAction(rigging.WithLookup(cmd.Context(), in.lookup), action, kind, name, in)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.item, "item", "", `file holding the item (YAML or JSON, one object; "-" for stdin)`)
	fl.StringVar(&f.backup, "backup", "", "file holding the velero.io/v1 Backup (backup and delete kinds)")
	fl.StringVar(&f.restore, "restore", "", "file holding the velero.io/v1 Restore (restore kinds)")
	fl.StringVar(&f.itemFromBackup, "item-from-backup", "", "file holding the item as stored in the backup (restore kinds; default: --item)")
	fl.StringArrayVar(&f.context, "context", nil, "manifest file or directory of objects the action may look up (repeatable)")
	for _, name := range []string{"item", "backup", "restore", "item-from-backup"} {
		_ = cmd.MarkFlagFilename(name, "yaml", "yml", "json")
	}
	return cmd
}

// validate checks the arguments and flags that need no file access.
func (f *execFlags) validate(kindArg string) (rigging.Kind, error) {
	kind, err := rigging.ParseKind(kindArg)
	if err != nil {
		return "", asUsage(err)
	}
	takesBackup, ok := itemKinds[kind]
	switch {
	case kind == rigging.KindObjectStore:
		return "", usageErrorf("exec runs item actions; drive an ObjectStore with rigging store --provider NAME")
	case !ok:
		return "", usageErrorf("exec runs item actions, not %s plugins", kind)
	case f.item == "":
		return "", usageErrorf("--item is required")
	case f.backup != "" && f.restore != "":
		return "", usageErrorf("--backup and --restore exclude each other")
	case takesBackup && (f.restore != "" || f.itemFromBackup != ""):
		return "", usageErrorf("%s takes --backup, not --restore or --item-from-backup", kind)
	case !takesBackup && f.backup != "":
		return "", usageErrorf("%s takes --restore, not --backup", kind)
	}
	stdin := 0
	for _, p := range append([]string{f.item, f.itemFromBackup, f.backup, f.restore}, f.context...) {
		if p == manifest.Stdin {
			stdin++
		}
	}
	if stdin > 1 {
		return "", usageErrorf(`standard input ("-") can be read by one flag only`)
	}
	return kind, nil
}

// execInput is what exec hands the action.
type execInput struct {
	item, itemFromBackup *unstructured.Unstructured
	backup               *rigging.Backup
	restore              *rigging.Restore
	lookup               *resources.Index
}

// load reads the files the flags name.
func (f *execFlags) load(stdin io.Reader, g *globalFlags) (*execInput, error) {
	var in execInput
	var err error
	if in.item, err = loadOne(stdin, f.item, "--item"); err != nil {
		return nil, err
	}
	if f.itemFromBackup != "" {
		if in.itemFromBackup, err = loadOne(stdin, f.itemFromBackup, "--item-from-backup"); err != nil {
			return nil, err
		}
	} else {
		in.itemFromBackup = in.item.DeepCopy()
	}
	in.backup = &rigging.Backup{
		TypeMeta:   metav1.TypeMeta{APIVersion: veleroAPI, Kind: "Backup"},
		ObjectMeta: metav1.ObjectMeta{Name: execObjectName, Namespace: veleroNS},
		Status:     rigging.BackupStatus{Phase: rigging.BackupPhaseInProgress},
	}
	if f.backup != "" {
		in.backup = &rigging.Backup{}
		if err := loadVelero(stdin, f.backup, "--backup", "Backup", in.backup); err != nil {
			return nil, err
		}
	}
	in.restore = &rigging.Restore{
		TypeMeta:   metav1.TypeMeta{APIVersion: veleroAPI, Kind: "Restore"},
		ObjectMeta: metav1.ObjectMeta{Name: execObjectName, Namespace: veleroNS},
		Spec:       rigging.RestoreSpec{BackupName: execObjectName},
		Status:     rigging.RestoreStatus{Phase: rigging.RestorePhaseInProgress},
	}
	if f.restore != "" {
		in.restore = &rigging.Restore{}
		if err := loadVelero(stdin, f.restore, "--restore", "Restore", in.restore); err != nil {
			return nil, err
		}
	}
	objs, err := manifest.LoadFrom(stdin, f.context...)
	if err != nil {
		return nil, fmt.Errorf("--context: %w", err)
	}
	in.lookup = resources.NewIndex(resources.NewMapper())
	// The item is part of what the action sees (a pod's claims are looked up
	// next to the pod); an object of the same identity in --context is
	// replaced by it.
	if err := in.lookup.Add(append(objs, in.item)...); err != nil {
		g.Logger.Warn("some --context objects cannot be looked up", "error", err)
	}
	return &in, nil
}

// loadOne reads a file that must hold exactly one object.
func loadOne(stdin io.Reader, path, flag string) (*unstructured.Unstructured, error) {
	objs, err := manifest.LoadFrom(stdin, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: %s holds %d objects, want exactly one", flag, sourceName(path), len(objs))
	}
	return objs[0], nil
}

// loadVelero reads a velero.io/v1 object of the given kind into v.
func loadVelero(stdin io.Reader, path, flag, kind string, v any) error {
	u, err := loadOne(stdin, path, flag)
	if err != nil {
		return err
	}
	if u.GetAPIVersion() != veleroAPI || u.GetKind() != kind {
		return fmt.Errorf("%s: %s holds a %s %s, want a %s %s", flag, sourceName(path), u.GetAPIVersion(), u.GetKind(), veleroAPI, kind)
	}
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", flag, sourceName(path), err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %s: %w", flag, sourceName(path), err)
	}
	return nil
}

func sourceName(path string) string {
	if path == manifest.Stdin {
		return manifest.StdinSource
	}
	return path
}

// selectorJSON is a rigging.ResourceSelector in exec's output.
type selectorJSON struct {
	IncludedNamespaces []string `json:"includedNamespaces"`
	ExcludedNamespaces []string `json:"excludedNamespaces"`
	IncludedResources  []string `json:"includedResources"`
	ExcludedResources  []string `json:"excludedResources"`
	LabelSelector      string   `json:"labelSelector"`
}

// identifierJSON is a rigging.ResourceIdentifier in exec's output.
type identifierJSON struct {
	Group     string `json:"group"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func identifiers(ids []rigging.ResourceIdentifier) []identifierJSON {
	out := make([]identifierJSON, 0, len(ids))
	for _, id := range ids {
		out = append(out, identifierJSON{Group: id.Group, Resource: id.Resource, Namespace: id.Namespace, Name: id.Name})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// selectorAction is what every item action kind has.
type selectorAction interface {
	AppliesTo(ctx context.Context) (rigging.ResourceSelector, error)
}

// getAction gets the item action kind name from m. A plugin m does not
// have is a usage error naming the kind, the name and the closest names
// of that kind (the registry's own error, with its import hint, is meant for
// programs that embed the library, not for a user at the command line).
func getAction(ctx context.Context, m *manager.Manager, kind rigging.Kind, name rigging.Name) (selectorAction, error) {
	var action selectorAction
	var err error
	switch kind {
	case rigging.KindBackupItemAction:
		action, err = m.BackupItemAction(ctx, name.String())
	case rigging.KindBackupItemActionV2:
		action, err = m.BackupItemActionV2(ctx, name.String())
	case rigging.KindRestoreItemAction:
		action, err = m.RestoreItemAction(ctx, name.String())
	case rigging.KindRestoreItemActionV2:
		action, err = m.RestoreItemActionV2(ctx, name.String())
	case rigging.KindDeleteItemAction:
		action, err = m.DeleteItemAction(ctx, name.String())
	case rigging.KindItemBlockAction:
		action, err = m.ItemBlockAction(ctx, name.String())
	}
	if errors.Is(err, rigging.ErrPluginNotFound) {
		var known, otherKinds []string
		for _, p := range m.Plugins() {
			switch to, ok := p.Kind.AdaptsTo(); {
			case p.Kind == kind || ok && to == kind:
				known = append(known, p.Name.String())
			case p.Name == name && p.Active:
				otherKinds = append(otherKinds, p.Kind.String())
			}
		}
		also := ""
		if len(otherKinds) > 0 {
			also = fmt.Sprintf("; %s is a %s", name, strings.Join(otherKinds, ", "))
		}
		return nil, usageErrorf("no %s plugin is named %s%s%s; 'rigging plugins' lists them", kind, name, didYouMean(closestNames(name.String(), known)), also)
	}
	return action, err
}

// runAction asks the action's selector, runs it on the item, and returns
// exec's output object.
func runAction(ctx context.Context, action selectorAction, kind rigging.Kind, n rigging.Name, in *execInput) (map[string]any, error) {
	// The Manager's middleware names the plugin and the method in the
	// errors of its calls; exec adds the item.
	fail := func(err error) error {
		if ns := in.item.GetNamespace(); ns != "" {
			return fmt.Errorf("%s %s/%s: %w", in.item.GetKind(), ns, in.item.GetName(), err)
		}
		return fmt.Errorf("%s %s: %w", in.item.GetKind(), in.item.GetName(), err)
	}
	sel, err := action.AppliesTo(ctx)
	if err != nil {
		return nil, err
	}
	matcher, err := resources.CompileSelector(sel, in.lookup.Mapper())
	if err != nil {
		return nil, fmt.Errorf("plugin %s %s: AppliesTo: %w", kind, n, err)
	}
	out := map[string]any{
		"kind": kind.String(),
		"name": n.String(),
		"selector": selectorJSON{
			IncludedNamespaces: nonNil(sel.IncludedNamespaces), ExcludedNamespaces: nonNil(sel.ExcludedNamespaces),
			IncludedResources: nonNil(sel.IncludedResources), ExcludedResources: nonNil(sel.ExcludedResources),
			LabelSelector: sel.LabelSelector,
		},
		"appliesToItem": matcher.MatchesObject(in.item),
	}
	item := func(u *unstructured.Unstructured) map[string]any {
		if u == nil {
			return in.item.Object // nil means unchanged, as Velero's host reads it
		}
		return u.Object
	}
	switch a := action.(type) {
	case rigging.BackupItemAction:
		updated, additional, err := a.Execute(ctx, in.item.DeepCopy(), in.backup)
		if err != nil {
			return nil, fail(err)
		}
		out["item"], out["additionalItems"] = item(updated), identifiers(additional)
	case rigging.BackupItemActionV2:
		updated, additional, opID, post, err := a.Execute(ctx, in.item.DeepCopy(), in.backup)
		if err != nil {
			return nil, fail(err)
		}
		out["item"], out["additionalItems"] = item(updated), identifiers(additional)
		out["operationID"], out["postOperationItems"] = opID, identifiers(post)
	case rigging.RestoreItemAction: // a RestoreItemActionV2 is one too
		res, err := a.Execute(ctx, &rigging.RestoreItemActionExecuteInput{
			Item: in.item.DeepCopy(), ItemFromBackup: in.itemFromBackup, Restore: in.restore,
		})
		if err != nil {
			return nil, fail(err)
		}
		if res == nil {
			res = &rigging.RestoreItemActionExecuteOutput{}
		}
		out["item"], out["additionalItems"], out["skipRestore"] = item(res.UpdatedItem), identifiers(res.AdditionalItems), res.SkipRestore
		if kind == rigging.KindRestoreItemActionV2 {
			out["operationID"], out["waitForAdditionalItems"] = res.OperationID, res.WaitForAdditionalItems
			out["additionalItemsReadyTimeout"] = res.AdditionalItemsReadyTimeout.String()
		}
	case rigging.ItemBlockAction:
		related, err := a.GetRelatedItems(ctx, in.item.DeepCopy(), in.backup)
		if err != nil {
			return nil, fail(err)
		}
		out["relatedItems"] = identifiers(related)
	case rigging.DeleteItemAction:
		if err := a.Execute(ctx, &rigging.DeleteItemActionExecuteInput{Item: in.item.DeepCopy(), Backup: in.backup}); err != nil {
			return nil, fail(err)
		}
	}
	return out, nil
}
