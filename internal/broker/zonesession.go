package broker

import (
	"math"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/config"
)

// The zone keys of a session (EMQX's zone.<name>.*): each session takes
// the limits of the zone of the client that established it last
// (sessions.establish), read through one atomic load per delivery:
// max_inflight, max_mqueue_len, mqueue_store_qos0, upgrade_qos and
// ignore_loop_deliver; retry_interval, max_awaiting_rel and
// await_rel_timeout (retry.go); mqueue_priorities and
// mqueue_default_priority (mqueue.go).

// zone is the zone whose limits the session keeps.
func (s *session) zone() *config.Zone {
	if z := s.z.Load(); z != nil {
		return z
	}
	return s.ss.def
}

// deliveryQoS is the QoS a message published at pub goes out at under a
// subscription granted sub: the lower of the two, or with
// zone.<name>.upgrade_qos on the higher (EMQX's emqx_session:enrich_subopts:
// max(SubQoS, PubQoS)); never above what the node grants (limit).
func deliveryQoS(z *config.Zone, pub, sub, limit byte) byte {
	q := min(pub, sub)
	if z.UpgradeQoS {
		q = pub
		if sub > q {
			q = sub
		}
	}
	return min(q, limit)
}

// quotaSubscriptions refuses the new filters of SUBSCRIBE pk beyond
// zone.<name>.max_subscriptions (existing subscriptions count; one
// renewed does not): SUBACK 0x97 Quota exceeded (MQTT 3.1.1: 0x80), as
// EMQX's emqx_session:subscribe. The filters the other checks refused are
// stand-ins by now and do not count.
// It returns how many it refused.
func quotaSubscriptions(cl *mqtt.Client, maxSubs int, pk *packets.Packet, c *conn) (refused int) {
	n := cl.State.Subscriptions.Len()
	for i := range pk.Filters {
		f := &pk.Filters[i]
		if f.Filter == invalidFilter {
			continue
		}
		if _, ok := cl.State.Subscriptions.Get(f.Filter); ok {
			continue
		}
		if n >= maxSubs {
			f.Filter = invalidFilter
			c.badSub = append(c.badSub, subCode{i: i, code: packets.ErrQuotaExceeded.Code})
			refused++
			continue
		}
		n++
	}
	return refused
}

// zone.<name>.session_expiry_interval is the longest a session outlives
// its connection: an MQTT 5 client's Session Expiry Interval is capped to
// it (CONNACK tells the capped value), and it is the expiry of an MQTT
// 3.1.1 session with clean session off (EMQX's expiry_interval/2). mochi
// keeps one interval for every MQTT 3 session: the longest of the zones';
// a shorter zone's sessions are ended by a timer of their own (expireV3).

// seconds is d in whole seconds for an MQTT interval.
func seconds(d time.Duration) uint32 {
	return uint32(min(d/time.Second, math.MaxUint32))
}

// longestSessionExpiry is mochi's expiry of MQTT 3 sessions: the longest
// of the zones'.
func longestSessionExpiry(cfg *config.Config) uint32 {
	var n uint32
	for _, z := range cfg.Zones {
		n = max(n, seconds(z.SessionExpiryInterval))
	}
	return n
}

// capSessionExpiry caps the session expiry of an MQTT 5 client to its
// zone's as its CONNACK pk is encoded, and tells it the capped value.
func capSessionExpiry(cl *mqtt.Client, z *config.Zone, pk *packets.Packet) {
	if pk.ReasonCode >= 0x80 {
		return
	}
	if limit := seconds(z.SessionExpiryInterval); cl.Properties.Props.SessionExpiryInterval > limit {
		cl.Properties.Props.SessionExpiryInterval, cl.Properties.Props.SessionExpiryIntervalFlag = limit, true
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = limit, true
	}
}

// capDisconnectExpiry caps the Session Expiry Interval of an MQTT 5
// DISCONNECT to the zone's.
func capDisconnectExpiry(z *config.Zone, pk *packets.Packet) {
	pk.Properties.SessionExpiryInterval = min(pk.Properties.SessionExpiryInterval, seconds(z.SessionExpiryInterval))
}

// expireV3 ends, after its zone's session_expiry_interval, the session of
// an MQTT 3 client with clean session off whose zone keeps sessions less
// long than mochi does (the longest zone's), unless a connection took it
// over meanwhile; as mochi's own expiry does (the cluster's hook hears of
// it through the unsubscribe).
func (b *Broker) expireV3(cl *mqtt.Client, expire bool) {
	if expire || cl.Properties.ProtocolVersion == 5 || cl.IsTakenOver() {
		return
	}
	after := b.Zone(cl).SessionExpiryInterval
	if seconds(after) >= b.srv.Options.Capabilities.MaximumSessionExpiryInterval {
		return // mochi's expiry
	}
	time.AfterFunc(after, func() {
		if cur, ok := b.srv.Clients.Get(cl.ID); !ok || cur != cl || cl.StopTime() == 0 {
			return // resumed, taken over or ended meanwhile
		}
		b.UnsubscribeClient(cl)
		b.sessions.end(cl)
		b.srv.Clients.Delete(cl.ID)
	})
}
