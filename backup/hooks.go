package backup

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pod exec hooks (Velero's annotations pre.hook.backup.velero.io/command,
// post.hook.backup.velero.io/command and the legacy, phase-less
// hook.backup.velero.io/command, which is a pre hook) ask Velero to run a
// command in a container of the pod before and after the pod is backed up.
// rigging runs no hooks: it has no kubelet to exec through (Velero execs
// through the API server's pods/exec, which needs a node running the pod).
// Each hook is recorded instead, as a warning naming the hook, its phase,
// the pod and the container, so that a backup that relied on a hook (a
// database flushed before its volume is copied) says it did not run. The
// Backup spec's hooks (spec.hooks) are kept verbatim and not read.
const (
	hookAnnotationCommand   = "hook.backup.velero.io/command"
	hookAnnotationContainer = "hook.backup.velero.io/container"
	// hookFromAnnotation is the name Velero gives a hook taken from a
	// pod's annotations.
	hookFromAnnotation = "<from-annotation>"
)

// podHook is an exec hook of a pod, from its annotations.
type podHook struct {
	phase     string // "pre" or "post"
	container string
	command   []string
}

// podHooks returns the exec hooks the annotations of pod ask for, as
// Velero reads them: per phase, the phase's annotations; for the pre
// phase without them, the legacy ones. A hook without a container runs in
// the pod's first container.
func podHooks(pod *unstructured.Unstructured) []podHook {
	ann := pod.GetAnnotations()
	var out []podHook
	for _, phase := range []string{"pre", "post"} {
		prefix := phase + "."
		cmd := ann[prefix+hookAnnotationCommand]
		if cmd == "" && phase == "pre" {
			prefix = ""
			cmd = ann[hookAnnotationCommand]
		}
		if cmd == "" {
			continue
		}
		h := podHook{phase: phase, container: ann[prefix+hookAnnotationContainer], command: hookCommand(cmd)}
		if h.container == "" {
			h.container = firstContainer(pod)
		}
		out = append(out, h)
	}
	return out
}

// hookCommand is Velero's parseStringToCommand: a JSON array of strings,
// else the whole value as one word.
func hookCommand(v string) []string {
	var cmd []string
	if strings.HasPrefix(v, "[") && json.Unmarshal([]byte(v), &cmd) == nil {
		return cmd
	}
	return []string{v}
}

func firstContainer(pod *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
	if len(cs) == 0 {
		return ""
	}
	c, _ := cs[0].(map[string]any)
	name, _ := c["name"].(string)
	return name
}

// noteHooks records each exec hook of a pod backed up as not run.
func (r *blockRun) noteHooks(it item, il *itemLog) {
	if it.res.Group != "" || it.res.Plural != "pods" {
		return
	}
	for _, h := range podHooks(it.obj) {
		// The results keep only the message: it names everything.
		r.warnf(il.logger(), fmt.Sprintf("%s hook %s not run in container %q of pod %s/%s: rigging runs no pod exec hooks (no kubelet to exec in); command %q",
			h.phase, hookFromAnnotation, h.container, it.k.namespace, it.k.name, h.command))
	}
}
