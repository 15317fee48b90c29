// Package release makes release homes for the tools that run node processes
// (cmd/emqxbench, cmd/emqxsoak): a fresh folder with etc/ copied from the
// repository, where bin/emqx keeps its data/ and log/.
package release

import (
	"os"
	"path/filepath"
)

// Files are the configuration files of a release's etc/, by path under etc/.
var Files = []string{"emqx.conf", "cluster.conf", "acl.conf",
	"plugins/emqx_auth_http.conf", "plugins/emqx_auth_jwt.conf", "plugins/emqx_auth_mnesia.conf"}

// NewHome creates a temporary home (prefix names it) holding root's
// etc/ Files; the caller removes it.
func NewHome(root, prefix string) (string, error) {
	home, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(home, "etc", "plugins"), 0o755); err != nil {
		return "", err
	}
	for _, f := range Files {
		b, err := os.ReadFile(filepath.Join(root, "etc", f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(home, "etc", f), b, 0o644); err != nil {
			return "", err
		}
	}
	return home, nil
}
