package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/config"
)

// The zone keys of a session (EMQX's zone.<name>.*): each session takes
// the limits of the zone of the client that established it last
// (sessions.establish), read through one atomic load per delivery:
// max_inflight, max_mqueue_len, mqueue_store_qos0, upgrade_qos and
// ignore_loop_deliver.

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
func quotaSubscriptions(cl *mqtt.Client, maxSubs int, pk *packets.Packet, c *conn) {
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
			continue
		}
		n++
	}
}
