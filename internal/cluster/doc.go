// Package cluster will own membership (serf), the persisted member record,
// peer RPC links, the route table, forwarding, retained replication and the
// client-id registry. Until it lands, a node runs standalone and
// `emqx_ctl cluster join` answers {clustering_not_available,Node}.
package cluster
