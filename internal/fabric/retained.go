package fabric

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"emqxgo/internal/config"
	"emqxgo/internal/ratelog"
	"emqxgo/internal/wire"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// Retained messages are a table (table.go), "$retained": in memory only
// with retainer.storage_type ram (a node that restarts gets them back from
// its peers when its links come up; when every node stops they are gone),
// persisted under the data dir with disc and disc_only: topic -> the message, its versions, tombstones for clears, newest wins,
// whole-table sync when a link comes up are the table's. mochi's retained
// store is its view: every change that wins here (local or a peer's) is
// stored there (changed), the packet sharing the table value's bytes.
//
// A local change does not go through the table's sender but in the
// forward outbox of each peer, behind the forwarded copies of the same
// publish (mochi calls OnPublish before OnRetainMessage): a peer stores it
// only after it delivered that message to its subscribers, so a client
// subscribing there meanwhile never gets it twice (as a delivery and as
// the retained message); the changes of one node arrive in the order they
// were made (a subscriber that sees the last has all before it), and are
// acknowledged and resent like QoS 1 messages.
//
// The value of a topic:
//
//	retained = version(1) created(varint) expires(varint) message
//
// created and expires are unix seconds where the message was published
// (expires 0: no message expiry), message its binary form (codec.go) with
// the topic left out. Every node expires it by the same rules as mochi
// (message expiry, and broker-wide maximum age): mochi drops it from its
// store and the table makes it a tombstone of the same version
// (TableOptions.Expired; nothing is sent). A message published without a
// message expiry expires after retainer.expiry_interval (if set): expires
// holds its end, the message no expiry of its own (so subscribers get it
// without one, as from EMQX).
//
// What a node's clients retain passes retainer.* first (accept): a payload
// beyond max_payload_size, or a new topic once the cluster holds
// max_retained_messages, is delivered but not retained.
type retainer struct {
	f      *Fabric
	t      *Table
	cfg    config.Retainer
	mu     sync.Mutex // mochi's retained store is changed under it (changed, unstored, expired)
	logged *ratelog.Limiter
	full   atomic.Uint64 // retained PUBLISHes not stored: the table was full
	tooBig atomic.Uint64 // retained PUBLISHes not stored: payload beyond max_payload_size
}

const retainedVersion = 1

func newRetainer(f *Fabric, cfg config.Retainer) *retainer {
	r := &retainer{f: f, cfg: cfg, logged: ratelog.New(time.Minute)}
	persist := cfg.StorageType == "disc" || cfg.StorageType == "disc_only"
	if !persist && f.dataDir != "" {
		// ram: what a former disc run left is not brought back later.
		path := filepath.Join(f.dataDir, tablesDir, retainedTable+".tbl")
		if err := os.Remove(path); err == nil {
			f.log.Info("retainer.storage_type is ram: the retained messages file of a former run removed", zap.String("file", path))
		} else if !errors.Is(err, os.ErrNotExist) {
			f.log.Warn("cannot remove the retained messages file of a former run", zap.String("file", path), zap.Error(err))
		}
	}
	r.t = f.tables.open(retainedTable, TableOptions{Expired: r.expiredValue, Persist: persist}, true)
	r.t.OnChange(r.changed)
	r.t.Range(func(topic string, val []byte) bool { // loaded from the file
		r.changed(topic, val, false)
		return true
	})
	return r
}

// accept reports whether a retained PUBLISH of client cl is stored: an
// empty payload (a clear) always is, a larger one than max_payload_size
// not, nor a new topic once the cluster holds max_retained_messages
// (replacing a retained message is allowed). What peers send is theirs to
// decide.
func (r *retainer) accept(cl *mqtt.Client, pk packets.Packet) bool {
	if (cl != nil && fromPeer(cl)) || len(pk.Payload) == 0 {
		return true
	}
	if limit := r.cfg.MaxPayloadSize; limit > 0 && int64(len(pk.Payload)) > limit {
		r.tooBig.Add(1)
		if r.logged.First("too-big") {
			r.f.log.Error("cannot retain a message: payload too big (retainer.max_payload_size; logged once a minute)",
				zap.String("topic", pk.TopicName), zap.Int("payload_size", len(pk.Payload)), zap.Int64("max_payload_size", limit))
		}
		return false
	}
	if limit := r.cfg.MaxRetainedMessages; limit > 0 && !strings.HasPrefix(pk.TopicName, "$") {
		if _, ok := r.t.Get(pk.TopicName); !ok && r.t.Len() >= limit {
			r.full.Add(1)
			if r.logged.First("full") {
				r.f.log.Error("cannot retain a message: the retained messages table is full (retainer.max_retained_messages; logged once a minute)",
					zap.String("topic", pk.TopicName), zap.Int("max_retained_messages", limit))
			}
			return false
		}
	}
	return true
}

// reshow puts back in mochi's store what the table holds for topic (mochi
// stored a retained will that accept refused).
func (r *retainer) reshow(topic string) {
	val, ok := r.t.Get(topic)
	r.changed(topic, val, !ok)
}

// local is called when a client of this node retained (or cleared) a topic.
func (r *retainer) local(pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, "$") {
		return
	}
	var val []byte
	if len(pk.Payload) > 0 {
		now := time.Now()
		m := fromPacket(pk, now)
		if m == nil {
			return
		}
		created := pk.Created
		if created == 0 {
			created = now.Unix()
		}
		var expires int64
		if m.Expiry > 0 {
			expires = now.Unix() + int64(m.Expiry)
		} else if iv := r.cfg.ExpiryInterval; iv > 0 {
			expires = now.Add(iv + time.Second - 1).Unix() // whole seconds, rounded up
		}
		val = encodeRetained(m, created, expires)
	}
	v := r.t.write(pk.TopicName, val, val == nil)
	m := &message{Topic: pk.TopicName, Payload: val, TS: v.ts, Node: v.node}
	for _, p := range r.f.links.Peers() {
		r.f.outbox(p).put(m, false)
	}
}

// remote applies a peer's change that came in its forward batch (a
// message with TS set: Topic, its value in Payload, none: cleared).
func (r *retainer) remote(m *message) {
	e := entry{ver: version{ts: m.TS, node: r.f.tables.intern(m.Node)}}
	if len(m.Payload) == 0 {
		e.del = true
	} else {
		e.val = append([]byte{}, m.Payload...) // not the whole batch kept alive by a slice of it
	}
	r.t.apply([]wireEntry{{key: m.Topic, e: e}})
}

// changed shows a change that won in mochi's store.
func (r *retainer) changed(topic string, val []byte, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if deleted {
		r.f.srv.Topics.RetainMessage(clearPacket(topic))
		return
	}
	pk, err := retainedPacket(topic, val)
	if err != nil {
		r.f.log.Warn("malformed retained message; not stored", zap.String("topic", topic), zap.Error(err))
		return
	}
	r.f.srv.Topics.RetainMessage(pk)
}

// expired: mochi dropped topic's retained message as expired. The table
// follows; if the table holds a newer, live one (stored as mochi's sweep
// ran), it is shown again.
func (r *retainer) expired(topic string) {
	now := time.Now()
	if r.t.expire(topic, func(v []byte) bool { return r.expiredValue(v, now) }) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	val, ok := r.t.Get(topic)
	if _, shown := r.f.srv.Topics.Retained.Get(topic); !ok || shown {
		return
	}
	if pk, err := retainedPacket(topic, val); err == nil {
		r.f.srv.Topics.RetainMessage(pk)
	}
}

// expiredValue applies mochi's rules for retained messages to a value.
func (r *retainer) expiredValue(val []byte, now time.Time) bool {
	created, expires, err := retainedTimes(&wire.Reader{B: val})
	if err != nil {
		return false
	}
	s := now.Unix()
	if expires > 0 && expires < s {
		return true
	}
	maxAge := r.f.srv.Options.Capabilities.MaximumMessageExpiryInterval
	return maxAge > 0 && s-created > maxAge
}

// unstored runs inject (a delivery with the retain flag, through inline
// client origin) and then puts back the retained message that topic had
// before, unless another client stored one meanwhile: what a node retains
// is decided by the table, newest wins, not by the order deliveries arrive
// in.
func (r *retainer) unstored(origin, topic string, inject func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.f.srv.Topics.Retained.Get(topic)
	inject()
	cur, ok := r.f.srv.Topics.Retained.Get(topic)
	switch {
	case ok && cur.Origin != origin:
		return // stored by someone else since: theirs stands
	case had:
		r.f.srv.Topics.RetainMessage(old)
	case ok:
		r.f.srv.Topics.RetainMessage(clearPacket(topic))
	}
}

func clearPacket(topic string) packets.Packet {
	return packets.Packet{TopicName: topic, FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}}
}

// encodeRetained is the table value of retained message m.
func encodeRetained(m *message, created, expires int64) []byte {
	c := *m
	// c.Expiry stays: set, the message had an expiry of its own (expires
	// holds its end); none, expires is retainer.expiry_interval's if set.
	c.Topic, c.Retain, c.Seq, c.ID, c.Groups, c.SharedOnly, c.TS, c.Node = "", false, 0, 0, nil, false, 0, ""
	b := make([]byte, 0, 48+len(c.Payload)+len(c.From))
	b = append(b, retainedVersion)
	b = binary.AppendVarint(b, created)
	b = binary.AppendVarint(b, expires)
	return appendMessage(b, &c)
}

var errBadRetained = errors.New("malformed retained value")

func retainedTimes(r *wire.Reader) (created, expires int64, err error) {
	if r.Byte() != retainedVersion {
		return 0, 0, errBadRetained
	}
	created, expires = r.Varint(), r.Varint()
	if r.Err != nil {
		return 0, 0, errBadRetained
	}
	return created, expires, nil
}

// retainedPacket is the packet mochi stores for a table value; its payload
// shares val's bytes.
func retainedPacket(topic string, val []byte) (packets.Packet, error) {
	r := &wire.Reader{B: val}
	created, expires, err := retainedTimes(r)
	if err != nil {
		return packets.Packet{}, err
	}
	m := readMessage(r)
	if r.Err != nil || len(r.B) != 0 {
		return packets.Packet{}, errBadRetained
	}
	m.Topic = topic
	if expires > 0 && m.Expiry > 0 { // its own expiry: what is left of it
		m.Expiry = uint32(max(expires-time.Now().Unix(), 1))
	}
	pk := m.toPacket(true)
	pk.Origin, pk.Created = m.From, created
	if expires > 0 {
		pk.Expiry = expires
		pk.ProtocolVersion = 5 // so mochi's sweep honours the message expiry [MQTT-3.3.2-5]
	}
	return pk, nil
}

// RetainedRefused counts the retained PUBLISHes of this node's clients that
// were delivered but not retained: the cluster held
// retainer.max_retained_messages (full), or the payload was beyond
// retainer.max_payload_size (tooBig).
func (f *Fabric) RetainedRefused() (full, tooBig uint64) {
	return f.retained.full.Load(), f.retained.tooBig.Load()
}
