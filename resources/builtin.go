package resources

// builtin is the static REST mapping: the resource types a Kubernetes 1.33
// API server lists in `kubectl api-resources` (plus the kinds that became GA
// later and that k8s.io/api v0.37 carries: resource.k8s.io/v1 and
// VolumeAttributesClass, GA in 1.34), the CSI snapshot kinds of
// external-snapshotter v8, and Velero's own kinds. Version is the preferred
// version. Order matters: when a bare name (a plural, a kind, a short name)
// is claimed by several groups, the earliest entry wins, as kubectl prefers
// the core group; "events" and "ev" therefore mean the core Event.
//
// Singular names are the lower-case kind, as the API server reports them.
var builtin = []Resource{
	// core (group "")
	{Version: "v1", Kind: "Binding", Plural: "bindings", Namespaced: true},
	{Version: "v1", Kind: "ComponentStatus", Plural: "componentstatuses", ShortNames: []string{"cs"}},
	{Version: "v1", Kind: "ConfigMap", Plural: "configmaps", ShortNames: []string{"cm"}, Namespaced: true},
	{Version: "v1", Kind: "Endpoints", Plural: "endpoints", ShortNames: []string{"ep"}, Namespaced: true},
	{Version: "v1", Kind: "Event", Plural: "events", ShortNames: []string{"ev"}, Namespaced: true},
	{Version: "v1", Kind: "LimitRange", Plural: "limitranges", ShortNames: []string{"limits"}, Namespaced: true},
	{Version: "v1", Kind: "Namespace", Plural: "namespaces", ShortNames: []string{"ns"}},
	{Version: "v1", Kind: "Node", Plural: "nodes", ShortNames: []string{"no"}},
	{Version: "v1", Kind: "PersistentVolumeClaim", Plural: "persistentvolumeclaims", ShortNames: []string{"pvc"}, Namespaced: true},
	{Version: "v1", Kind: "PersistentVolume", Plural: "persistentvolumes", ShortNames: []string{"pv"}},
	{Version: "v1", Kind: "Pod", Plural: "pods", ShortNames: []string{"po"}, Namespaced: true},
	{Version: "v1", Kind: "PodTemplate", Plural: "podtemplates", Namespaced: true},
	{Version: "v1", Kind: "ReplicationController", Plural: "replicationcontrollers", ShortNames: []string{"rc"}, Namespaced: true},
	{Version: "v1", Kind: "ResourceQuota", Plural: "resourcequotas", ShortNames: []string{"quota"}, Namespaced: true},
	{Version: "v1", Kind: "Secret", Plural: "secrets", Namespaced: true},
	{Version: "v1", Kind: "ServiceAccount", Plural: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true},
	{Version: "v1", Kind: "Service", Plural: "services", ShortNames: []string{"svc"}, Namespaced: true},

	// admissionregistration.k8s.io
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfiguration", Plural: "mutatingwebhookconfigurations"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy", Plural: "validatingadmissionpolicies"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicyBinding", Plural: "validatingadmissionpolicybindings"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration", Plural: "validatingwebhookconfigurations"},

	// apiextensions.k8s.io, apiregistration.k8s.io
	{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Plural: "customresourcedefinitions", ShortNames: []string{"crd", "crds"}},
	{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService", Plural: "apiservices"},

	// apps
	{Group: "apps", Version: "v1", Kind: "ControllerRevision", Plural: "controllerrevisions", Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "DaemonSet", Plural: "daemonsets", ShortNames: []string{"ds"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "Deployment", Plural: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet", Plural: "replicasets", ShortNames: []string{"rs"}, Namespaced: true},
	{Group: "apps", Version: "v1", Kind: "StatefulSet", Plural: "statefulsets", ShortNames: []string{"sts"}, Namespaced: true},

	// authentication.k8s.io, authorization.k8s.io (create-only review kinds)
	{Group: "authentication.k8s.io", Version: "v1", Kind: "SelfSubjectReview", Plural: "selfsubjectreviews"},
	{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenReview", Plural: "tokenreviews"},
	{Group: "authorization.k8s.io", Version: "v1", Kind: "LocalSubjectAccessReview", Plural: "localsubjectaccessreviews", Namespaced: true},
	{Group: "authorization.k8s.io", Version: "v1", Kind: "SelfSubjectAccessReview", Plural: "selfsubjectaccessreviews"},
	{Group: "authorization.k8s.io", Version: "v1", Kind: "SelfSubjectRulesReview", Plural: "selfsubjectrulesreviews"},
	{Group: "authorization.k8s.io", Version: "v1", Kind: "SubjectAccessReview", Plural: "subjectaccessreviews"},

	// autoscaling, batch
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler", Plural: "horizontalpodautoscalers", ShortNames: []string{"hpa"}, Namespaced: true},
	{Group: "batch", Version: "v1", Kind: "CronJob", Plural: "cronjobs", ShortNames: []string{"cj"}, Namespaced: true},
	{Group: "batch", Version: "v1", Kind: "Job", Plural: "jobs", Namespaced: true},

	// certificates.k8s.io, coordination.k8s.io, discovery.k8s.io, events.k8s.io
	{Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest", Plural: "certificatesigningrequests", ShortNames: []string{"csr"}},
	{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease", Plural: "leases", Namespaced: true},
	{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice", Plural: "endpointslices", Namespaced: true},
	{Group: "events.k8s.io", Version: "v1", Kind: "Event", Plural: "events", ShortNames: []string{"ev"}, Namespaced: true},

	// flowcontrol.apiserver.k8s.io
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1", Kind: "FlowSchema", Plural: "flowschemas"},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1", Kind: "PriorityLevelConfiguration", Plural: "prioritylevelconfigurations"},

	// networking.k8s.io (IPAddress and ServiceCIDR are GA since 1.33)
	{Group: "networking.k8s.io", Version: "v1", Kind: "IngressClass", Plural: "ingressclasses"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress", Plural: "ingresses", ShortNames: []string{"ing"}, Namespaced: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "IPAddress", Plural: "ipaddresses", ShortNames: []string{"ip"}},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy", Plural: "networkpolicies", ShortNames: []string{"netpol"}, Namespaced: true},
	{Group: "networking.k8s.io", Version: "v1", Kind: "ServiceCIDR", Plural: "servicecidrs"},

	// node.k8s.io, policy, rbac.authorization.k8s.io, scheduling.k8s.io
	{Group: "node.k8s.io", Version: "v1", Kind: "RuntimeClass", Plural: "runtimeclasses"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget", Plural: "poddisruptionbudgets", ShortNames: []string{"pdb"}, Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding", Plural: "clusterrolebindings"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Plural: "clusterroles"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding", Plural: "rolebindings", Namespaced: true},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role", Plural: "roles", Namespaced: true},
	{Group: "scheduling.k8s.io", Version: "v1", Kind: "PriorityClass", Plural: "priorityclasses", ShortNames: []string{"pc"}},

	// resource.k8s.io (dynamic resource allocation, GA in 1.34)
	{Group: "resource.k8s.io", Version: "v1", Kind: "DeviceClass", Plural: "deviceclasses"},
	{Group: "resource.k8s.io", Version: "v1", Kind: "ResourceClaim", Plural: "resourceclaims", Namespaced: true},
	{Group: "resource.k8s.io", Version: "v1", Kind: "ResourceClaimTemplate", Plural: "resourceclaimtemplates", Namespaced: true},
	{Group: "resource.k8s.io", Version: "v1", Kind: "ResourceSlice", Plural: "resourceslices"},

	// storage.k8s.io (VolumeAttributesClass GA in 1.34)
	{Group: "storage.k8s.io", Version: "v1", Kind: "CSIDriver", Plural: "csidrivers"},
	{Group: "storage.k8s.io", Version: "v1", Kind: "CSINode", Plural: "csinodes"},
	{Group: "storage.k8s.io", Version: "v1", Kind: "CSIStorageCapacity", Plural: "csistoragecapacities", Namespaced: true},
	{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass", Plural: "storageclasses", ShortNames: []string{"sc"}},
	{Group: "storage.k8s.io", Version: "v1", Kind: "VolumeAttachment", Plural: "volumeattachments"},
	{Group: "storage.k8s.io", Version: "v1", Kind: "VolumeAttributesClass", Plural: "volumeattributesclasses", ShortNames: []string{"vac"}},

	// snapshot.storage.k8s.io: the CSI snapshot CRDs of external-snapshotter v8
	{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshotClass", Plural: "volumesnapshotclasses", ShortNames: []string{"vsclass", "vsclasses"}},
	{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshotContent", Plural: "volumesnapshotcontents", ShortNames: []string{"vsc", "vscs"}},
	{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot", Plural: "volumesnapshots", ShortNames: []string{"vs"}, Namespaced: true},

	// velero.io: Velero v1.18's own CRDs
	{Group: "velero.io", Version: "v1", Kind: "BackupRepository", Plural: "backuprepositories", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "Backup", Plural: "backups", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "BackupStorageLocation", Plural: "backupstoragelocations", ShortNames: []string{"bsl"}, Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "DeleteBackupRequest", Plural: "deletebackuprequests", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "DownloadRequest", Plural: "downloadrequests", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "PodVolumeBackup", Plural: "podvolumebackups", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "PodVolumeRestore", Plural: "podvolumerestores", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "Restore", Plural: "restores", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "Schedule", Plural: "schedules", Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "ServerStatusRequest", Plural: "serverstatusrequests", ShortNames: []string{"ssr"}, Namespaced: true},
	{Group: "velero.io", Version: "v1", Kind: "VolumeSnapshotLocation", Plural: "volumesnapshotlocations", ShortNames: []string{"vsl"}, Namespaced: true},
	{Group: "velero.io", Version: "v2alpha1", Kind: "DataDownload", Plural: "datadownloads", Namespaced: true},
	{Group: "velero.io", Version: "v2alpha1", Kind: "DataUpload", Plural: "datauploads", Namespaced: true},
}

// legacy holds kinds of API groups that Kubernetes no longer serves at all
// but that old manifests and old cluster dumps still carry (the "extensions"
// group, removed in 1.16/1.22, and PodSecurityPolicy, removed in 1.25). They
// keep their own group, as the API servers that served them reported them, so
// an extensions/v1beta1 DaemonSet is "daemonsets.extensions". ForGVK and
// ForGroupResource find them; Resolve finds them only by "plural.group", so a
// bare "daemonsets" still means "daemonsets.apps".
//
// Kinds that moved between versions of a group that is still served (a
// batch/v1beta1 CronJob, a policy/v1beta1 PodDisruptionBudget) need no entry:
// the mapper matches a group and kind whatever the version.
var legacy = []Resource{
	{Group: "extensions", Version: "v1beta1", Kind: "DaemonSet", Plural: "daemonsets", ShortNames: []string{"ds"}, Namespaced: true},
	{Group: "extensions", Version: "v1beta1", Kind: "Deployment", Plural: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	{Group: "extensions", Version: "v1beta1", Kind: "Ingress", Plural: "ingresses", ShortNames: []string{"ing"}, Namespaced: true},
	{Group: "extensions", Version: "v1beta1", Kind: "NetworkPolicy", Plural: "networkpolicies", ShortNames: []string{"netpol"}, Namespaced: true},
	{Group: "extensions", Version: "v1beta1", Kind: "PodSecurityPolicy", Plural: "podsecuritypolicies", ShortNames: []string{"psp"}},
	{Group: "extensions", Version: "v1beta1", Kind: "ReplicaSet", Plural: "replicasets", ShortNames: []string{"rs"}, Namespaced: true},
	{Group: "policy", Version: "v1beta1", Kind: "PodSecurityPolicy", Plural: "podsecuritypolicies", ShortNames: []string{"psp"}},
}
