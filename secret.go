package rigging

import (
	"net/url"
	"strings"
)

// Secret configuration. A plugin's configuration (an ObjectStore's Init
// config, a Configurable plugin's section of the plugin-config file) may hold
// passwords, tokens and keys. Hosts never show such values: wherever they
// print or log a configuration (describe output, debug logs, error messages)
// they pass it through RedactConfig with the keys the plugin declares secret.

// Redacted is what RedactConfig puts in place of a secret value, and of the
// password of a URL in any value.
const Redacted = "[redacted]"

// SecretConfig is implemented by plugins whose configuration has keys that
// hold secrets the default rule (IsSecretKey) does not recognise by name.
// SecretKeys returns those keys; hosts redact their values in addition to
// the keys IsSecretKey matches, so a plugin can widen redaction but never
// narrow it, and a plugin that is not a SecretConfig gets the default rule
// alone. SecretKeys must not depend on Init or Configure having been called:
// hosts may ask a fresh instance. Keys are matched without regard to case.
type SecretConfig interface {
	SecretKeys() []string
}

// SecretKeysOf returns the keys plugin declares secret through SecretConfig,
// or nil when it does not implement it.
func SecretKeysOf(plugin any) []string {
	if s, ok := plugin.(SecretConfig); ok {
		return s.SecretKeys()
	}
	return nil
}

// secretWords are the parts of a key name, lower-cased and without '-', '_'
// and '.', that mark its value as secret.
var secretWords = []string{
	"password", "passwd", "passphrase", "secret", "token", "credential",
	"apikey", "accesskey", "accountkey", "sessionkey", "privatekey",
	"encryptionkey", "signingkey", "masterkey", "clientkey",
}

// referenceSuffixes end the names of keys that hold where a secret is (a
// file, a directory, an environment variable), not the secret itself:
// credentialsFile, passwordPath, storageAccountKeyEnvVar.
var referenceSuffixes = []string{"file", "path", "dir", "envvar", "env"}

// IsSecretKey is the default rule every host applies to every plugin's
// configuration: it reports whether key names a secret value. Case and the
// separators '-', '_' and '.' are ignored; the key is secret when it
// contains one of password, passwd, passphrase, secret, token, credential,
// apikey, accesskey, accountkey, sessionkey, privatekey, encryptionkey,
// signingkey, masterkey or clientkey, unless it ends in file, path, dir,
// envvar or env (it then names where the secret is, as credentialsFile
// does). So secretAccessKey, aws_session_token, password and
// customerKeyEncryptionSecret are secret; credentialsFile, kmsKeyId, caCert
// (a public certificate) and region are not. The rule errs towards hiding:
// a reference whose name does not say so (customerKeyEncryptionSecret
// names a Kubernetes Secret) is hidden too.
func IsSecretKey(key string) bool {
	k := strings.ToLower(strings.NewReplacer("-", "", "_", "", ".", "").Replace(key))
	for _, s := range referenceSuffixes {
		if strings.HasSuffix(k, s) {
			return false
		}
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// RedactConfig returns a copy of cfg, safe to print or log: the value of
// every key that IsSecretKey matches or that equals one of secret (without
// regard to case) is replaced by Redacted, unless it is empty (an unset
// secret shows as unset); in every other value that is a URL with a
// password ("https://user:pass@host"), the password is replaced by Redacted.
// cfg is not modified; a nil cfg gives nil.
func RedactConfig(cfg map[string]string, secret ...string) map[string]string {
	if cfg == nil {
		return nil
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		switch {
		case v == "":
			out[k] = v
		case IsSecretKey(k) || containsFold(secret, k):
			out[k] = Redacted
		default:
			out[k] = redactURL(v)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// redactURL replaces the password of v when v is a URL with one.
func redactURL(v string) string {
	if !strings.Contains(v, "://") || !strings.Contains(v, "@") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); !ok {
		return v
	}
	u.User = url.UserPassword(u.User.Username(), Redacted)
	// String escapes the brackets of Redacted; put them back for reading.
	return strings.Replace(u.String(), url.QueryEscape(Redacted), Redacted, 1)
}
