// Package config owns the node's configuration: the schema of every key
// (name, type, default, allowed values), the EMQX 4 `key = value` file
// format of etc/emqx.conf and etc/cluster.conf, the EMQX_* environment
// overrides, validation (per key and across keys, all errors at once with
// file:line or env var), and the printable effective configuration used by
// `emqx check_config`.
//
// Load reads etc/emqx.conf, then etc/cluster.conf, then the auth plugins'
// etc/plugins/<plugin>.conf that exist (emqx_auth_http, emqx_auth_jwt,
// emqx_auth_mnesia), then the environment (env beats files, later files
// beat earlier ones, the last of a key given twice wins; any key may be in
// any file), and returns a validated *Config or an *Errors listing every
// problem. It starts nothing and logs nothing; the only side effects are
// reading the files and checking that configured TLS and key files are
// readable.
//
// Keys are fixed (node.name) or wildcard keys with one free segment
// (auth.http.auth_req.headers.<name>, auth.user.<id>.username): any one
// segment there, kept as written, makes a concrete key (wild.go).
//
// The keys of each autocluster strategy (cluster.static.*, cluster.dns.*,
// cluster.etcd.*, cluster.k8s.*, cluster.mcast.*) belong to that strategy's
// package: Config.Cluster holds its Config type, the schema takes its
// defaults, and its Validate (CheckKeys for the strategies not in use)
// states the rules; this package parses the text and puts each problem at
// its file:line. The auth plugins' keys (auth.http.*, auth.jwt.*) belong
// to their packages the same way (Config, Defaults, CheckKeys). Those
// packages are light (the etcd settings live apart from the etcd client;
// the auth plugins link no MQTT server), and so is this one: a program
// that only reads the configuration (emqx_ctl) links neither the node nor
// the cluster layer.
//
// Layering is done with one viper instance per Load, created with the "::"
// key delimiter because EMQX keys contain dots and some keys are prefixes of
// others (listener.ssl.external and listener.ssl.external.keyfile). Viper
// holds the values of fixed keys; this package tracks where each value came
// from, and holds the values of wildcard keys itself (viper folds keys to
// lower case, and a claim name keeps its case).
package config
