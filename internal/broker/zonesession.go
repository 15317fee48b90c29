package broker

import (
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
