package broker

import (
	"strings"

	"emqxgo/internal/topic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// zone.<name>.mountpoint, as EMQX 4.4 (emqx_mountpoint, emqx_channel):
// the topic of a client's PUBLISH gets the prefix once the ACL has allowed
// it (the ACL sees the topic as the client named it), so do the filters of
// its SUBSCRIBE and UNSUBSCRIBE (after $share/<group>/ or $queue/), and a
// message delivered to it loses the prefix. The will is published as the
// client gave it (EMQX 4.4 does not mount it). %c and %u in the
// mountpoint are the client id and the user name, replaced once the
// client's id and user name are final. A client whose zone has no
// mountpoint pays one empty-string test per packet.

// replvar is mountpoint mp with the levels %c and %u replaced by the
// client id and user name (emqx_mountpoint:replvar: whole levels only; %u
// stays when the client gave no user name).
func replvar(mp, clientID, username string, hasUser bool) string {
	if !strings.Contains(mp, "%") {
		return mp
	}
	lv := strings.Split(mp, "/")
	for i, w := range lv {
		switch {
		case w == "%c":
			lv[i] = clientID
		case w == "%u" && hasUser:
			lv[i] = username
		}
	}
	return strings.Join(lv, "/")
}

// mountFilter is filter f of a client with mountpoint mp as the node
// subscribes it: the prefix goes after $share/<group>/ and $queue/.
func mountFilter(mp, f string) string {
	if mp == "" {
		return f
	}
	if pre, rest := topic.SplitShared(f); pre != "" {
		return pre + mp + rest
	}
	if strings.HasPrefix(f, "$share/") {
		return f // invalid: mochi refuses it
	}
	return mp + f
}

// unmountFilter is mountFilter undone (for the ACL's view of a filter).
func unmountFilter(mp, f string) string {
	if mp == "" {
		return f
	}
	if pre, rest := topic.SplitShared(f); pre != "" {
		return pre + strings.TrimPrefix(rest, mp)
	}
	if strings.HasPrefix(f, "$share/") {
		return f
	}
	return strings.TrimPrefix(f, mp)
}

// mountOf is the mountpoint of cl (its zone's, variables replaced; ""
// for none and for the cluster's inline clients).
func mountOf(cl *mqtt.Client) string {
	if c, ok := cl.Net.Conn.(*conn); ok {
		return c.mount
	}
	return ""
}

// setMount gives the connection of cl its mountpoint; it runs as the
// session is established (the client id and user name are final then:
// use_username_as_clientid, peer_cert_as_*). pk is the CONNECT.
func (b *Broker) setMount(cl *mqtt.Client, pk packets.Packet) string {
	c, ok := cl.Net.Conn.(*conn)
	if !ok {
		return ""
	}
	mp := b.Zone(cl).Mountpoint
	if mp != "" {
		user := string(cl.Properties.Username)
		mp = replvar(mp, cl.ID, user, user != "" || pk.Connect.UsernameFlag)
	}
	c.mount = mp
	return mp
}

// Unmount is topic (or filter) as client cl named it: its mountpoint
// taken off, as the ACL checks it (EMQX checks before mounting).
func (b *Broker) Unmount(cl *mqtt.Client, topic string) string {
	return unmountFilter(mountOf(cl), topic)
}

// OnPublish mounts the topic of a client's PUBLISH (it runs first; the
// gate checks the ACL on the topic unmounted, see Unmount).
func (h *nodeHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if mp := mountOf(cl); mp != "" {
		pk.TopicName = mp + pk.TopicName
	}
	return pk, nil
}
