// Package cluster owns EMQX-style membership on top of hashicorp/serf: who
// is in the cluster, who is running and who is stopped, and the operations
// emqx_ctl offers (join, leave, force-leave, status). The peer links it
// uses for its own calls, and hands to the node for routes and forwarding,
// are package peerlink.
//
// Files: cluster.go (Config, New, Start, Stop, Status, the serf instance on
// the gossip port 4370+N, encrypted with a key derived from node.cookie
// (keys.go) and labelled with cluster.name); ops.go (Join, Leave,
// ForceLeave, and admit: which dialers a link may be opened for); events.go
// (serf member and user events, and the handler that wraps the node's
// peerlink.Handler: a peer's force-leave request, link up and down);
// maintain.go (a 250 ms loop: dial running members without a link, rejoin
// stopped members of the record, autoclean); record.go (the member record
// persisted under data/cluster/<node>/members.json, so a restarted node
// rejoins by itself and "stopped" survives restarts); gated.go (gossip is
// held until serf is complete); logfilter.go (serf's log lines into zap,
// repeated warnings once per window).
//
// EMQX semantics on top of serf: join = leave the old cluster, fresh serf,
// join the new one; stop or crash is not leave (peers list the node under
// stopped_nodes); force-leave is sticky (a restarted removed node is only
// let back in by a peer whose record still lists it); autoclean
// force-leaves members stopped longer than cluster.autoclean.
//
// # Membership state
//
// Besides serf's own member list and the record (rec.Members: the members
// this node knows, each with the time it was last seen stopping), Cluster
// holds nine fields. Each row says what the field means, what sets it and
// what clears it.
//
//	field      meaning                                set by                                     cleared by
//	down       peer's link broke and its RPC port     probeDown/markDown (refused dial after a   serf join/update of the peer, its LinkUp,
//	           refuses: shown stopped before gossip   LinkDown, or linkRunning's dial refused)   leave/reap/forget of it, leaveCurrent
//	forgotten  force-left node: hidden, its merges    forget (ForceLeave, autoclean), a peer's   unforget: an explicit join of it, or a
//	           refused, pruned when gossip fails it   "forget" user event                        peer's "unforget" event
//	blocked    peer that refused our rejoin (it       rejoinStopped on not_member                Join (all), admit of its WantJoin
//	           removed us): its merges are refused
//	open       this run takes gossip about others     Join, rejoinStopped's successful dial,     leaveCurrent (standalone again)
//	           (closed at start and after a leave)    admit of a join or of a listed member
//	retry      dial/rejoin backoff per peer           due (maintain loop)                        LinkUp, leave/reap of the peer,
//	           (250 ms doubling to 5 s)                                                          forget, leaveCurrent
//	boot       record's members when this run began   Start                                      never (BootPeers filters the current record)
//	tried      peers dialed at least once this run    linkRunning, rejoinStopped                 never
//	joined     this run has been in a cluster         serf member join/update, a successful      never (autoheal off: rejoinStopped stops
//	                                                  Join or rejoin                             once set)
//	left       `cluster leave` ran: autocluster off   Leave                                      Join, EnableDiscovery
//
// Transitions of a peer as this node sees it: unknown -> running (serf
// join, or our Join) -> stopped (serf failed, or down) -> running (it comes
// back: serf join/update or LinkUp clears down) ... -> removed (serf
// leave/reap, or forget: then forgotten until an explicit join).
//
// Lock order: Cluster.opMu (serialises join/leave/force-leave/autoclean)
// before Cluster.mu (the state above) before the links' own lock. Never
// call serf or the network while holding Cluster.mu.
package cluster
