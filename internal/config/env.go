package config

import (
	"sort"
	"strconv"
	"strings"
)

// Environment overrides: EMQX_ + key with '.' written as "__", case-insensitive
// (EMQX_CLUSTER__DISCOVERY, emqx_listener__tcp__external). EMQX 4 shorthands
// EMQX_NODE_NAME and EMQX_NODE_COOKIE are accepted; when both forms of a key
// are set, the "__" form wins. A key of one word (allow_anonymous,
// acl_nomatch, auth_order, ...) has no "__": EMQX_ALLOW_ANONYMOUS,
// EMQX_ACL_NOMATCH. EMQX_LOADED_PLUGINS lists the plugins to load
// (Config.LoadedPlugins). Other EMQX_* variables without "__" (EMQX_HOME,
// EMQX_WAIT_FOR_START, ...) belong to the scripts and are ignored. An empty
// value means "use the default" (as if the key were not in the files; a
// wildcard key such as a header is then not set at all), like EMQX 4's
// docker entrypoint, which comments the key out. Names are read in lower
// case, the free segment of a wildcard key too:
// EMQX_AUTH__HTTP__AUTH_REQ__HEADERS__CONTENT_TYPE sets the header
// content_type (sent as Content-Type).

const envPrefix = "EMQX_"

// loadedPluginsVar is EMQX_LOADED_PLUGINS after the prefix, lower case:
// not a key of the files, it sets Config.LoadedPlugins.
const loadedPluginsVar = "loaded_plugins"

// parsePluginNames splits EMQX_LOADED_PLUGINS as EMQX 4's docker entrypoint
// does: at every run of characters other than ASCII letters, digits and '_'.
func parsePluginNames(v string) []string {
	names := strings.FieldsFunc(v, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if len(names) == 0 {
		return nil
	}
	return names
}

var envShorthands = map[string]string{
	"node_name":   "node.name",
	"node_cookie": "node.cookie",
}

// envName is the canonical variable name of a key: node.name -> EMQX_NODE__NAME.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// envSetting is the environment's word on one key. An empty value resets the
// key to its default.
type envSetting struct {
	key, value string
	from       origin
}

type envVar struct {
	name, value string
	shorthand   bool
}

// readEnv maps EMQX_* variables to keys, one setting per key, sorted by key.
func readEnv(env []string) ([]envSetting, []Error) {
	var errs []Error
	byKey := map[string][]envVar{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || len(name) <= len(envPrefix) || !strings.EqualFold(name[:len(envPrefix)], envPrefix) {
			continue
		}
		rest := strings.ToLower(name[len(envPrefix):])
		value = unquoteEnv(value)
		var key string
		shorthand := false
		switch {
		case envShorthands[rest] != "":
			key, shorthand = envShorthands[rest], true
		case strings.Contains(rest, "__"):
			key = strings.ReplaceAll(rest, "__", ".")
		case known(rest), rest == loadedPluginsVar: // a one-word key
			key = rest
		default:
			continue // a script variable such as EMQX_HOME
		}
		if !known(key) && key != loadedPluginsVar {
			errs = append(errs, Error{Source: "env " + name, Key: key, Value: shownValue(key, value), Msg: unknownKeyMsg(key, true)})
			continue
		}
		byKey[key] = append(byKey[key], envVar{name: name, value: value, shorthand: shorthand})
	}

	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]envSetting, 0, len(keys))
	for _, k := range keys {
		s, err := pickEnv(k, byKey[k])
		if err != nil {
			errs = append(errs, *err)
		}
		out = append(out, s)
	}
	return out, errs
}

// pickEnv chooses among the variables naming one key: a non-empty "__" form
// beats a non-empty shorthand, which beats empty ones. Two non-empty
// variables of the same rank with different values are an error.
func pickEnv(key string, vars []envVar) (envSetting, *Error) {
	sort.SliceStable(vars, func(i, j int) bool {
		ri, rj := envRank(vars[i]), envRank(vars[j])
		if ri != rj {
			return ri < rj
		}
		return vars[i].name < vars[j].name
	})
	win := vars[0]
	s := envSetting{key: key, value: win.value, from: origin{source: "env " + win.name}}
	for _, o := range vars[1:] {
		if envRank(o) == envRank(win) && o.value != "" && o.value != win.value {
			shown, other := o.value, strconv.Quote(win.value)
			if isSecret(key) {
				shown, other = Masked, Masked
			}
			return s, &Error{Source: "env " + o.name, Key: key, Value: shown,
				Msg: "conflicts with " + win.name + "=" + other + "; set only one of them"}
		}
	}
	return s, nil
}

func envRank(v envVar) int {
	switch {
	case v.value != "" && !v.shorthand:
		return 0
	case v.value != "":
		return 1
	case !v.shorthand:
		return 2
	}
	return 3
}

// unquoteEnv trims blanks and one pair of matching surrounding quotes, which
// docker-compose env files sometimes keep.
func unquoteEnv(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	return v
}
