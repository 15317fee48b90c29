// Package plugins loads and unloads the node's plugins as EMQX 4 does:
// `emqx_ctl plugins list|load|unload|reload <plugin>`, remembered in
// data/loaded_plugins (EMQX's file: one `name.` or `{name, true|false}.`
// per line), each plugin configured by etc/plugins/<plugin>.conf and
// started with the settings read when it loads (reload reads them again).
//
// The plugins here are the auth backends; when the set of running plugins
// changes, the manager hands their authenticators and ACL sources, in load
// order, to the node's gate.
package plugins
