package config

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/viper"
)

// Options say where the release is and which environment applies.
type Options struct {
	Home   string   // release home; relative paths in the config resolve against it
	EtcDir string   // folder of emqx.conf and cluster.conf; default Home/etc (relative: against Home)
	Env    []string // environment as os.Environ gives it; nil means none
}

// Config file names, read in this order.
const (
	EmqxConfFile    = "emqx.conf"
	ClusterConfFile = "cluster.conf"
)

// Load reads EtcDir/emqx.conf, then EtcDir/cluster.conf, then those of
// EtcDir/plugins/<plugin>.conf (PluginConfFiles) that exist, then the
// EMQX_* environment, and returns the validated configuration. On any
// problem it returns nil and an *Errors holding every problem found.
func Load(opts Options) (*Config, error) {
	l, err := newLoader(opts)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{EmqxConfFile, ClusterConfFile} {
		l.mergeFile(filepath.Join(l.etcDir, name))
	}
	for _, name := range PluginConfFiles {
		p := filepath.Join(l.etcDir, PluginsDir, name)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			continue // the plugin's defaults
		}
		l.mergeFile(p)
	}
	l.mergeEnv(opts.Env)
	return l.finish()
}

// loader is the state of one Load: a fresh viper holding the layered values
// and, beside it, where each value came from.
type loader struct {
	home, etcDir  string
	v             *viper.Viper
	from          map[string]origin    // key -> where its effective value was set; absent = default
	wild          map[string]wildEntry // concrete wildcard key -> its value (wild.go); absent = not set
	sources       []string             // files in load order, for sorting errors
	errs          []Error
	failed        map[string]bool // keys whose value could not be stored
	loadedPlugins []string        // EMQX_LOADED_PLUGINS
}

func newLoader(opts Options) (*loader, error) {
	if opts.Home == "" {
		return nil, &Errors{List: []Error{{Msg: "release home is not set"}}}
	}
	home, err := filepath.Abs(opts.Home)
	if err != nil {
		return nil, &Errors{List: []Error{{Source: opts.Home, Msg: "cannot resolve release home: " + err.Error()}}}
	}
	etc := opts.EtcDir
	if etc == "" {
		etc = "etc"
	}
	l := &loader{
		home:   home,
		etcDir: resolvePath(home, etc),
		v:      viper.NewWithOptions(viper.KeyDelimiter("::")),
		from:   map[string]origin{},
		wild:   map[string]wildEntry{},
		failed: map[string]bool{},
	}
	for _, f := range schema {
		l.v.SetDefault(f.key, f.def)
	}
	return l, nil
}

// mergeFile layers one file over what is there; within a file the last
// occurrence of a key wins.
func (l *loader) mergeFile(path string) {
	l.sources = append(l.sources, path)
	entries, errs := readFile(path)
	l.errs = append(l.errs, errs...)
	l.mergeEntries(path, entries)
}

// mergeText layers text as if it were a file named source.
func (l *loader) mergeText(source string, text []byte) {
	l.sources = append(l.sources, source)
	entries, errs := parse(source, text)
	l.errs = append(l.errs, errs...)
	l.mergeEntries(source, entries)
}

func (l *loader) mergeEntries(path string, entries []entry) {
	values := map[string]any{}
	for _, e := range entries {
		e.value = l.expand(e.value)
		if w, _ := matchWild(e.key); w != nil {
			l.wild[e.key] = wildEntry{value: e.value, from: origin{source: path, line: e.line}}
			continue
		}
		if lookup(e.key) == nil {
			l.errs = append(l.errs, Error{Source: path, Line: e.line, Key: e.key, Value: shownValue(e.key, e.value), Msg: unknownKeyMsg(e.key, false)})
			continue
		}
		values[e.key] = e.value
		l.from[e.key] = origin{source: path, line: e.line}
	}
	if err := l.v.MergeConfigMap(values); err != nil {
		l.errs = append(l.errs, Error{Source: path, Msg: err.Error()})
	}
}

// mergeEnv layers the environment over the files. An empty value puts the
// key back to its default.
func (l *loader) mergeEnv(env []string) {
	settings, errs := readEnv(env)
	l.errs = append(l.errs, errs...)
	for _, s := range settings {
		s.value = l.expand(s.value)
		if s.key == loadedPluginsVar {
			l.loadedPlugins = parsePluginNames(s.value)
			continue
		}
		if w, _ := matchWild(s.key); w != nil {
			if s.value == "" {
				delete(l.wild, s.key)
			} else {
				l.wild[s.key] = wildEntry{value: s.value, from: s.from}
			}
			continue
		}
		if s.value == "" {
			l.v.Set(s.key, lookup(s.key).def)
			delete(l.from, s.key)
			continue
		}
		l.v.Set(s.key, s.value)
		l.from[s.key] = s.from
	}
}

// expand replaces the placeholders of EMQX's release templates in a value:
// {{ platform_etc_dir }} is the etc folder, {{ platform_data_dir }},
// {{ platform_log_dir }}, {{ platform_plugins_dir }} and
// {{ platform_lib_dir }} are data, log, plugins and lib under the home.
func (l *loader) expand(v string) string {
	if !strings.Contains(v, "{{") {
		return v
	}
	for _, p := range []struct{ name, dir string }{
		{"platform_etc_dir", l.etcDir}, {"platform_data_dir", filepath.Join(l.home, "data")},
		{"platform_log_dir", filepath.Join(l.home, "log")}, {"platform_plugins_dir", filepath.Join(l.home, "plugins")},
		{"platform_lib_dir", filepath.Join(l.home, "lib")},
	} {
		for _, form := range []string{"{{ " + p.name + " }}", "{{" + p.name + "}}"} {
			v = strings.ReplaceAll(v, form, p.dir)
		}
	}
	return v
}

// build stores every key's effective value into a Config, collecting value errors.
func (l *loader) build() *Config {
	c := &Config{Home: l.home, EtcDir: l.etcDir}
	for i := range schema {
		f := &schema[i]
		raw := l.v.GetString(f.key)
		if err := f.set(c, raw, l.home); err != nil {
			l.failed[f.key] = true
			if !errors.Is(err, errNoNodeName) { // node.name's own error says it
				l.errs = append(l.errs, errAt(l.from[f.key], f.key, l.shown(f.key, raw), err.Error()))
			}
		}
	}
	_, c.Log.ToIsSet = l.from["log.to"]
	c.LoadedPlugins = l.loadedPlugins
	l.buildWild(c)
	l.buildZones(c)
	l.buildListeners(c)
	l.listAccepted(c)
	return c
}

// wildEntry is the value of one concrete wildcard key and where it was set.
type wildEntry struct {
	value string
	from  origin
}

// buildWild stores the values of the wildcard keys.
func (l *loader) buildWild(c *Config) {
	byField := map[*wildField][]wildVal{}
	for key, e := range l.wild {
		if w, free := matchWild(key); w != nil {
			byField[w] = append(byField[w], wildVal{free, e.value})
		}
	}
	peer := func(key string) (string, bool) {
		e, ok := l.wild[key]
		return e.value, ok
	}
	for i := range wildSchema {
		w := &wildSchema[i]
		if w.set == nil {
			continue
		}
		vals := byField[w]
		sortWild(vals)
		w.set(c, vals, peer, func(free, problem string) {
			key := w.concrete(free)
			l.failed[key] = true
			raw, from := l.raw(key)
			l.errs = append(l.errs, errAt(from, key, l.shown(key, raw), problem))
		})
	}
}

// report adds a problem of key, found after build, at the place key was set
// (its raw value quoted). A key whose value already failed to be stored is
// left at its zero value, so a problem reported about that is dropped: one
// error per mistake.
func (l *loader) report(key, problem string) {
	if l.failed[key] {
		return
	}
	raw, from := l.raw(key)
	l.errs = append(l.errs, errAt(from, key, l.shown(key, raw), problem))
}

// raw returns the effective raw value of key and where it was set.
func (l *loader) raw(key string) (string, origin) {
	if lookup(key) == nil {
		e := l.wild[key]
		return e.value, e.from
	}
	return l.v.GetString(key), l.from[key]
}

// shown is raw as errors show it: a secret masked.
func (l *loader) shown(key, raw string) string {
	if raw != "" && isSecret(key) {
		return Masked
	}
	return raw
}

// sortErrors orders errors by source (files in load order, then env
// variables by name, then the rest) and line, keeping the order of equals.
func sortErrors(errs []Error, files []string) {
	rank := func(e Error) int {
		for i, f := range files {
			if e.Source == f {
				return i
			}
		}
		if strings.HasPrefix(e.Source, "env ") {
			return len(files)
		}
		return len(files) + 1
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Line < b.Line
	})
}

// AsErrors returns the problem list of an error returned by Load, or nil.
func AsErrors(err error) []Error {
	var es *Errors
	if errors.As(err, &es) {
		return es.List
	}
	return nil
}

// FromLines returns the configuration of a node whose only file is an
// emqx.conf holding lines ("key = value"), over the defaults, with no
// environment; for tests and tools that build a node in process. Relative
// paths resolve against home.
func FromLines(home string, lines ...string) (*Config, error) {
	l, err := newLoader(Options{Home: home, EtcDir: filepath.Join(home, "etc")})
	if err != nil {
		return nil, err
	}
	l.mergeText("FromLines", []byte(strings.Join(lines, "\n")+"\n"))
	return l.finish()
}

// finish builds the Config from what was merged and checks it: nil and
// every problem found, sorted, when there is any.
func (l *loader) finish() (*Config, error) {
	c := l.build()
	l.crossCheck(c)
	if len(l.errs) > 0 {
		sortErrors(l.errs, l.sources)
		return nil, &Errors{List: l.errs}
	}
	return c, nil
}

// MustFromLines is FromLines that panics on an error (tests).
func MustFromLines(home string, lines ...string) *Config {
	c, err := FromLines(home, lines...)
	if err != nil {
		panic(err)
	}
	return c
}
