package plugins

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"

	"emqxgo/internal/access"
)

// Instance is a started plugin.
type Instance interface {
	Auth() access.Authenticator // nil: it does not authenticate
	ACL() access.ACLChecker     // nil: it checks no ACL
	Stop()
}

// Kind is a plugin the node has.
type Kind struct {
	Name, Description string
	// Start starts the plugin with the settings in force now.
	Start func() (Instance, error)
}

// Info is one line of `plugins list`.
type Info struct {
	Name, Description string
	Active            bool
}

// Errors, as EMQX names them.
var (
	ErrNotFound       = errors.New("not_found")
	ErrAlreadyStarted = errors.New("already_started")
	ErrNotStarted     = errors.New("not_started")
)

// Changed receives the running plugins' backends, in load order.
type Changed func(auth []access.Authenticator, acls []access.ACLChecker)

// Manager runs the plugins. Its methods may be called concurrently.
type Manager struct {
	file    string
	kinds   map[string]Kind
	changed Changed
	log     *zap.Logger

	mu      sync.Mutex
	running map[string]Instance
	order   []string // running, in load order
	stopped bool
}

// FileName is the loaded-plugins file under node.data_dir.
const FileName = "loaded_plugins"

// New returns a manager of kinds keeping its list in dataDir/loaded_plugins.
func New(dataDir string, kinds []Kind, changed Changed, log *zap.Logger) *Manager {
	m := &Manager{file: filepath.Join(dataDir, FileName), kinds: map[string]Kind{}, changed: changed, log: log,
		running: map[string]Instance{}}
	for _, k := range kinds {
		m.kinds[k.Name] = k
	}
	return m
}

// Boot loads the plugins data/loaded_plugins names (a missing file is
// created empty) and those of extra (EMQX_LOADED_PLUGINS), without
// writing the file. Names the node does not have are logged and kept in
// the file (an EMQX data dir lists plugins this node does not have). A
// plugin that fails to start is logged; the node runs without it.
func (m *Manager) Boot(extra []string) {
	names, err := readLoaded(m.file)
	if errors.Is(err, os.ErrNotExist) {
		err = writeLoaded(m.file, nil)
	}
	if err != nil {
		m.log.Error("cannot read the loaded plugins file", zap.String("file", m.file), zap.Error(err))
	}
	names = append(names, extra...)
	var missing []string
	for _, n := range names {
		if _, ok := m.kinds[n]; !ok {
			if !slices.Contains(missing, n) {
				missing = append(missing, n)
			}
			continue
		}
		if err := m.load(n, false); err != nil && !errors.Is(err, ErrAlreadyStarted) {
			m.log.Error("plugin not started", zap.String("plugin", n), zap.Error(err))
		}
	}
	if len(missing) > 0 {
		m.log.Warn("plugins named in the loaded plugins file that this node does not have", zap.Strings("plugins", missing))
	}
}

// List returns every plugin the node has, sorted by name.
func (m *Manager) List() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, 0, len(m.kinds))
	for _, k := range m.kinds {
		_, on := m.running[k.Name]
		out = append(out, Info{Name: k.Name, Description: k.Description, Active: on})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Active reports whether name runs.
func (m *Manager) Active(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.running[name]
	return ok
}

// Load starts name and remembers it in the file.
func (m *Manager) Load(name string) error { return m.load(name, true) }

func (m *Manager) load(name string, persist bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kinds[name]
	switch {
	case !ok:
		return ErrNotFound
	case m.stopped:
		return errors.New("node_stopping")
	}
	if _, on := m.running[name]; on {
		return ErrAlreadyStarted
	}
	in, err := k.Start()
	if err != nil {
		return err
	}
	m.running[name] = in
	m.order = append(m.order, name)
	m.notify()
	if persist {
		m.persist(func(names []string) []string {
			if slices.Contains(names, name) {
				return names
			}
			return append(names, name)
		})
	}
	m.log.Info("plugin loaded", zap.String("plugin", name))
	return nil
}

// Unload stops name and drops it from the file.
func (m *Manager) Unload(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.kinds[name]; !ok {
		return ErrNotFound
	}
	in, on := m.running[name]
	if !on {
		return ErrNotStarted
	}
	m.stop(name, in)
	m.notify()
	m.persist(func(names []string) []string {
		return slices.DeleteFunc(names, func(n string) bool { return n == name })
	})
	m.log.Info("plugin unloaded", zap.String("plugin", name))
	return nil
}

// Reload starts name again with the settings in force now (loading it if
// it did not run, as EMQX does). If the new settings fail, the plugin is
// left stopped and the error returned.
func (m *Manager) Reload(name string) error {
	m.mu.Lock()
	if _, ok := m.kinds[name]; !ok {
		m.mu.Unlock()
		return ErrNotFound
	}
	if in, on := m.running[name]; on {
		m.stop(name, in)
		m.notify()
	}
	m.mu.Unlock()
	return m.Load(name)
}

func (m *Manager) stop(name string, in Instance) {
	delete(m.running, name)
	m.order = slices.DeleteFunc(m.order, func(n string) bool { return n == name })
	in.Stop()
}

// notify hands the running backends to the gate; under mu.
func (m *Manager) notify() {
	var auth []access.Authenticator
	var acls []access.ACLChecker
	for _, n := range m.order {
		in := m.running[n]
		if a := in.Auth(); a != nil {
			auth = append(auth, a)
		}
		if c := in.ACL(); c != nil {
			acls = append(acls, c)
		}
	}
	if m.changed != nil {
		m.changed(auth, acls)
	}
}

// persist rewrites the file with edit applied to its names; under mu.
func (m *Manager) persist(edit func([]string) []string) {
	names, err := readLoaded(m.file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Error("cannot read the loaded plugins file", zap.String("file", m.file), zap.Error(err))
		return
	}
	if err := writeLoaded(m.file, edit(names)); err != nil {
		m.log.Error("cannot write the loaded plugins file", zap.String("file", m.file), zap.Error(err))
	}
}

// Stop stops every plugin; later loads fail. Safe to call twice.
func (m *Manager) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	m.stopped = true
	for _, n := range slices.Clone(m.order) {
		m.stop(n, m.running[n])
	}
}

var (
	nameTerm  = regexp.MustCompile(`^'?([a-z][a-zA-Z0-9_@]*)'?$`)
	tupleTerm = regexp.MustCompile(`^\{\s*'?([a-z][a-zA-Z0-9_@]*)'?\s*,\s*(true|false)\s*\}$`)
)

// readLoaded reads the names of the loaded plugins file: `name.` or
// `{name, true}.` loads, `{name, false}.` drops a name listed before, %
// starts a comment.
func readLoaded(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(l, '%'); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	var names []string
	for i, term := range strings.Split(strings.Join(lines, "\n"), ".") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		if mm := nameTerm.FindStringSubmatch(term); mm != nil {
			if !slices.Contains(names, mm[1]) {
				names = append(names, mm[1])
			}
			continue
		}
		mm := tupleTerm.FindStringSubmatch(term)
		if mm == nil {
			return names, fmt.Errorf("%s: term %d: expected name. or {name, true|false}., got %.40q", path, i+1, term)
		}
		switch {
		case mm[2] == "true" && !slices.Contains(names, mm[1]):
			names = append(names, mm[1])
		case mm[2] == "false":
			names = slices.DeleteFunc(names, func(n string) bool { return n == mm[1] })
		}
	}
	return names, nil
}

// writeLoaded writes names as EMQX does (`name.` per line), atomically.
func writeLoaded(path string, names []string) error {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + ".\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
