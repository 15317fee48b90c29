// Package config owns the node's configuration: the schema of every key
// (name, type, default, allowed values), the EMQX 4 `key = value` file
// format of etc/emqx.conf and etc/cluster.conf, the EMQX_* environment
// overrides, validation (per key and across keys, all errors at once with
// file:line or env var), and the printable effective configuration used by
// `emqx check_config`.
//
// Load reads etc/emqx.conf, then etc/cluster.conf, then the environment
// (env beats files, later files beat earlier ones, the last of a key given
// twice wins), and returns a validated *Config or an *Errors listing every
// problem. It starts nothing and logs nothing; the only side effects are
// reading the two files and checking that configured TLS files are readable.
//
// The keys of each autocluster strategy (cluster.static.*, cluster.dns.*,
// cluster.etcd.*, cluster.k8s.*, cluster.mcast.*) belong to that strategy's
// package: Config.Cluster holds its Config type, the schema takes its
// defaults, and its Validate (CheckKeys for the strategies not in use)
// states the rules; this package parses the text and puts each problem at
// its file:line. Those packages are light (the etcd settings live apart from
// the etcd client), and so is this one: a program that only reads the
// configuration (emqx_ctl) links neither the node nor the cluster layer.
//
// Layering is done with one viper instance per Load, created with the "::"
// key delimiter because EMQX keys contain dots and some keys are prefixes of
// others (listener.ssl.external and listener.ssl.external.keyfile). Viper
// holds the values; this package tracks where each value came from.
package config
