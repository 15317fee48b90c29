package broker

import (
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// traffic is one connection's counts, as EMQX keeps them per channel
// (emqx_connection's recv_*/send_* stats: the API's client fields, the
// ctl's delivered_msgs). The reading goroutine adds the recv_ ones, the
// writers (under the connection's write lock) the send_ ones; the
// management operations read them. One uncontended atomic add per count.
type traffic struct {
	recvCnt, recvOct, recvPkt atomic.Uint64
	recvMsg                   [3]atomic.Uint64 // by QoS
	sendCnt, sendOct, sendPkt atomic.Uint64
	sendMsg                   [3]atomic.Uint64 // by QoS
}

// Traffic is a connection's counts: socket reads and writes (cnt), bytes
// (oct), packets (pkt) and PUBLISH packets by QoS (msg).
type Traffic struct {
	RecvCnt, RecvOct, RecvPkt uint64
	RecvMsg                   [3]uint64
	SendCnt, SendOct, SendPkt uint64
	SendMsg                   [3]uint64
}

// RecvMsgs is the PUBLISH packets received, every QoS.
func (t Traffic) RecvMsgs() uint64 { return t.RecvMsg[0] + t.RecvMsg[1] + t.RecvMsg[2] }

// SendMsgs is the PUBLISH packets sent (EMQX's delivered_msgs).
func (t Traffic) SendMsgs() uint64 { return t.SendMsg[0] + t.SendMsg[1] + t.SendMsg[2] }

// TrafficOf is cl's counts on its current connection (zero when it has
// none of the node's listeners: a session kept after its client went).
func TrafficOf(cl *mqtt.Client) Traffic {
	c, ok := cl.Net.Conn.(*conn)
	if !ok || c == nil {
		return Traffic{}
	}
	t := &c.traffic
	out := Traffic{RecvCnt: t.recvCnt.Load(), RecvOct: t.recvOct.Load(), RecvPkt: t.recvPkt.Load(),
		SendCnt: t.sendCnt.Load(), SendOct: t.sendOct.Load(), SendPkt: t.sendPkt.Load()}
	for q := range 3 {
		out.RecvMsg[q], out.SendMsg[q] = t.recvMsg[q].Load(), t.sendMsg[q].Load()
	}
	return out
}
