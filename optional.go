package rigging

// Optional interfaces. A plugin implements the mandatory interface of its kind
// and, where it needs them, any of these; hosts discover them by type
// assertion and fall back as documented when they are absent, as database/sql
// does with its driver's optional interfaces.

// Configurable is implemented by plugins that take configuration from the
// host: the keys Velero reads from a plugin's ConfigMap (labelled
// velero.io/plugin-config), such as change-storage-class's old-to-new class
// map. Hosts call Configure once, after construction and before any other
// method, with the plugin's section of the host's plugin-config file; a
// plugin that is not Configurable gets no configuration. An error fails the
// plugin's construction and names the plugin.
type Configurable interface {
	Configure(config map[string]string) error
}

// Closer is implemented by plugins that hold resources (connections,
// goroutines, temporary files). The host calls Close once, when the Manager
// that created the instance is closed; no method is called after it.
type Closer interface {
	Close() error
}
