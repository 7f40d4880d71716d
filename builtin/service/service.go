// Package service ports Velero v1.18's RestoreItemAction velero.io/service:
// a Service is restored without the cluster IPs and the node ports the
// source cluster allocated, so the new cluster allocates its own, while the
// node ports a user chose are kept. The package registers the action in
// init; import it for its side effect.
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging"
	"github.com/rigging-dev/rigging/builtin/internal/kube"
	"github.com/rigging-dev/rigging/registry"
)

// Name is the registered name of the RestoreItemAction.
const Name = "velero.io/service"

// annotationLastApplied is where `kubectl apply` (client side) records the
// configuration the user applied.
const annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func init() {
	registry.Register(Name, func(log *slog.Logger) (rigging.RestoreItemAction, error) {
		return &RestoreAction{log: log}, nil
	})
}

// RestoreAction is the RestoreItemAction velero.io/service. It is safe for
// concurrent use.
type RestoreAction struct {
	log *slog.Logger
}

var _ rigging.RestoreItemAction = (*RestoreAction)(nil)

// AppliesTo selects Services.
func (a *RestoreAction) AppliesTo(context.Context) (rigging.ResourceSelector, error) {
	return rigging.ResourceSelector{IncludedResources: []string{"services"}}, nil
}

// Execute returns a copy of input.Item (the input is not changed) where:
//   - spec.clusterIP and spec.clusterIPs are removed, unless spec.clusterIP
//     is "None" (a headless service stays headless);
//   - unless the restore's spec.preserveNodePorts is true, the node ports
//     the cluster allocated are removed and those the user specified are
//     kept. A port's nodePort counts as specified when the
//     kubectl.kubernetes.io/last-applied-configuration annotation has it
//     (matched by port name, or for an unnamed port by the nodePort value);
//     without that annotation, when a managedFields entry owns the port's
//     f:nodePort (server-side apply; matched by port number and protocol).
//     An ExternalName service's ports are left alone;
//   - likewise, a LoadBalancer service with externalTrafficPolicy Local
//     loses spec.healthCheckNodePort unless the annotation sets it to a
//     non-zero value or a managedFields entry owns it.
//
// An annotation or managedFields entry that is not valid JSON fails the
// call, naming the service.
func (a *RestoreAction) Execute(ctx context.Context, input *rigging.RestoreItemActionExecuteInput) (*rigging.RestoreItemActionExecuteOutput, error) {
	if input == nil || input.Item == nil {
		return nil, kube.Errorf(Name, nil, "%w", kube.ErrNilItem)
	}
	var svc corev1.Service
	if err := kube.Decode(Name, input.Item, &svc); err != nil {
		return nil, err
	}
	out := input.Item.DeepCopy()
	spec, _ := out.Object["spec"].(map[string]any)
	if spec == nil {
		return normalized(out)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
	}

	if input.Restore != nil && input.Restore.Spec.PreserveNodePorts != nil && *input.Restore.Spec.PreserveNodePorts {
		return normalized(out)
	}
	applied, err := lastApplied(&svc)
	if err != nil {
		return nil, kube.Errorf(Name, input.Item, "%w", err)
	}
	owned, err := ownedFields(&svc)
	if err != nil {
		return nil, kube.Errorf(Name, input.Item, "%w", err)
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		ports, _ := spec["ports"].([]any)
		for i, p := range svc.Spec.Ports {
			if p.NodePort == 0 || i >= len(ports) || specifiedNodePort(p, applied, owned) {
				continue
			}
			if m, ok := ports[i].(map[string]any); ok {
				delete(m, "nodePort")
				if kube.DebugEnabled(ctx, a.log) {
					a.log.Debug("dropping allocated node port", "service", kube.Ref(input.Item), "port", p.Port, "nodePort", p.NodePort)
				}
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal &&
		svc.Spec.HealthCheckNodePort != 0 &&
		!specifiedHealthCheckNodePort(applied, owned) {
		delete(spec, "healthCheckNodePort")
	}
	return normalized(out)
}

// normalized returns out as Velero's typed round trip of a Service leaves
// it (kube.Normalize).
func normalized(out *unstructured.Unstructured) (*rigging.RestoreItemActionExecuteOutput, error) {
	typed, err := kube.Normalize[corev1.Service](Name, out)
	if err != nil {
		return nil, err
	}
	return &rigging.RestoreItemActionExecuteOutput{UpdatedItem: typed}, nil
}

// applied is what the last-applied-configuration annotation says about a
// service; nil when there is no annotation.
type applied struct {
	namedPorts   map[string]bool // names of the ports given a non-zero nodePort
	unnamedPorts map[int64]bool  // non-zero nodePorts of the ports without a name
	healthCheck  bool            // spec.healthCheckNodePort is non-zero
}

func lastApplied(svc *corev1.Service) (*applied, error) {
	raw, ok := svc.Annotations[annotationLastApplied]
	if !ok {
		return nil, nil
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", annotationLastApplied, err)
	}
	a := &applied{namedPorts: map[string]bool{}, unnamedPorts: map[int64]bool{}}
	if v, found, _ := unstructured.NestedFieldNoCopy(cfg, "spec", "healthCheckNodePort"); found {
		n, err := portNumber(v)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: spec.healthCheckNodePort: %w", annotationLastApplied, err)
		}
		a.healthCheck = n != 0
	}
	ports, _, _ := unstructured.NestedFieldNoCopy(cfg, "spec", "ports")
	list, _ := ports.([]any)
	for _, p := range list {
		port, ok := p.(map[string]any)
		if !ok {
			continue
		}
		v, found := port["nodePort"]
		if !found {
			continue
		}
		n, err := portNumber(v)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: spec.ports[].nodePort: %w", annotationLastApplied, err)
		}
		if n <= 0 {
			continue
		}
		if name, _ := port["name"].(string); name != "" {
			a.namedPorts[name] = true
		} else {
			a.unnamedPorts[n] = true
		}
	}
	return a, nil
}

// portNumber reads a port number as JSON decodes it (a number, or a string
// as kubectl accepts).
func portNumber(v any) (int64, error) {
	switch n := v.(type) {
	case float64:
		return int64(n), nil
	case int64:
		return n, nil
	case string:
		return strconv.ParseInt(n, 10, 64)
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("%v is %T, not a port number", v, v)
}

// owned is what the managedFields entries (any manager, any operation) own
// of a service's spec.
type owned struct {
	nodePorts   []portKey // ports whose f:nodePort some manager owns
	healthCheck bool      // some manager owns f:healthCheckNodePort
}

// portKey identifies a service port in managedFields: `k:{"port":…,"protocol":…}`.
type portKey struct {
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
}

func ownedFields(svc *corev1.Service) (owned, error) {
	var o owned
	for i, entry := range svc.ManagedFields {
		if entry.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal(entry.FieldsV1.Raw, &fields); err != nil {
			return owned{}, fmt.Errorf("metadata.managedFields[%d] (%s): %w", i, entry.Manager, err)
		}
		if _, found, _ := unstructured.NestedFieldNoCopy(fields, "f:spec", "f:healthCheckNodePort"); found {
			o.healthCheck = true
		}
		ports, _, _ := unstructured.NestedFieldNoCopy(fields, "f:spec", "f:ports")
		m, _ := ports.(map[string]any)
		for key, v := range m {
			p, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if _, found := p["f:nodePort"]; !found || !strings.HasPrefix(key, "k:") {
				continue
			}
			var k portKey
			if err := json.Unmarshal([]byte(strings.TrimPrefix(key, "k:")), &k); err != nil {
				return owned{}, fmt.Errorf("metadata.managedFields[%d] (%s): f:spec.f:ports key %s: %w", i, entry.Manager, key, err)
			}
			o.nodePorts = append(o.nodePorts, k)
		}
	}
	return o, nil
}

// specifiedNodePort reports whether the user chose p's nodePort. The
// annotation, when present, is the only witness, as in Velero.
func specifiedNodePort(p corev1.ServicePort, a *applied, o owned) bool {
	if a != nil {
		if p.Name != "" {
			return a.namedPorts[p.Name]
		}
		return a.unnamedPorts[int64(p.NodePort)]
	}
	protocol := p.Protocol
	if protocol == "" {
		protocol = corev1.ProtocolTCP // the API server's default
	}
	for _, k := range o.nodePorts {
		if k.Port == p.Port && k.Protocol == protocol {
			return true
		}
	}
	return false
}

func specifiedHealthCheckNodePort(a *applied, o owned) bool {
	return (a != nil && a.healthCheck) || o.healthCheck
}
