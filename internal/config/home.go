package config

import (
	"os"
	"path/filepath"
)

// ResolveHome returns the release home: $EMQX_HOME when set, else the folder
// above the running executable's folder (bin/..), symlinks resolved.
func ResolveHome() (string, error) {
	if h := os.Getenv("EMQX_HOME"); h != "" {
		return filepath.Abs(h)
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(filepath.Dir(exe)), nil
}

// LoadFromHome loads the configuration of the release home the process
// belongs to, with the process environment: what both emqx and emqx_ctl do.
func LoadFromHome() (*Config, error) {
	home, err := ResolveHome()
	if err != nil {
		return nil, err
	}
	return Load(Options{Home: home, Env: os.Environ()})
}
