package broker

import (
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// zone.<name>.retry_interval, max_awaiting_rel and await_rel_timeout, as
// EMQX's emqx_session/emqx_channel do them.
//
//   - While its client stays connected, a session re-sends a QoS 1 PUBLISH
//     not PUBACKed, a QoS 2 PUBLISH not PUBRECed (DUP=1) and a PUBREL not
//     PUBCOMPed once retry_interval has passed since it was last sent (the
//     PUBREL's since the PUBREC). mochi resends only on a resume.
//   - Inbound QoS 2 PUBLISHes awaiting PUBREL (mochi's PUBREC entries in
//     the client's inflight store) are at most max_awaiting_rel per
//     session: one more is answered as EMQX does, DISCONNECT 0x93 (MQTT
//     3.1.1: the connection is closed); one whose PUBREL did not come
//     within await_rel_timeout is dropped, so that its packet id is free.
//
// The node notes what it sent or received in two lists per session, in
// time order (timed), and a packet in mochi's inflight store carries the
// stamp of its last note (stamp). A note whose packet was acknowledged
// stays in the list until its time comes and is skipped then (an
// acknowledgement of the oldest note drops it at once, the usual case).
// One timer per session, armed while a note waits, serves both lists: no
// goroutine and no map per message. A re-send replaces the stored packet
// (same packet id): mochi's and the node's inflight counts do not change.

// epoch is the origin of the node's monotonic times (monoNow).
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// timed notes a packet sent (or received) at at, stamped seq, by id.
type timed struct {
	at  int64
	seq uint32
	pid uint16
}

// stampOf and setStamp: the stamp of a packet in mochi's inflight store,
// in a field of the CONNECT part of the packet that mochi neither sets
// nor encodes for a PUBLISH or an acknowledgement (see SetMessageID).
func stampOf(pk *packets.Packet) uint32       { return pk.Connect.WillProperties.MessageExpiryInterval }
func setStamp(pk *packets.Packet, seq uint32) { pk.Connect.WillProperties.MessageExpiryInterval = seq }

// stamp gives pk the session's next stamp; under mu.
func (s *session) stamp(pk *packets.Packet) uint32 {
	s.seq++
	if s.seq == 0 {
		s.seq = 1 // 0: not stamped
	}
	setStamp(pk, s.seq)
	return s.seq
}

// armAt makes the timer fire at at (monotonic) at the latest; under mu.
func (s *session) armAt(at int64) {
	if s.timerAt != 0 && s.timerAt <= at {
		return
	}
	s.timerAt = at
	d := time.Duration(at - monoNow())
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.onTimer)
	} else {
		s.timer.Reset(d)
	}
}

// stopTimer: nothing is due any more; under mu.
func (s *session) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerAt = 0
	s.rq, s.rqHead = s.rq[:0], 0
	s.rel, s.relHead, s.relN = s.rel[:0], 0, 0
}

// noteSent notes pk, a QoS 1/2 PUBLISH being stored in flight to cl,
// for a re-send after retry interval iv (> 0); under mu.
func (s *session) noteSent(cl *mqtt.Client, pk *packets.Packet, iv time.Duration) {
	now := monoNow()
	if n := len(s.rq) - s.rqHead; n >= 256 && n > 2*cl.State.Inflight.Len() {
		s.compactRetry(cl) // acknowledged out of order: drop the notes of what is gone
	}
	s.rq = append(s.rq, timed{at: now, seq: s.stamp(pk), pid: pk.PacketID})
	s.armAt(now + int64(iv))
}

// compactRetry drops the notes whose packet is no longer in flight; under mu.
func (s *session) compactRetry(cl *mqtt.Client) {
	live := s.rq[:0]
	for _, e := range s.rq[s.rqHead:] {
		if pk, ok := cl.State.Inflight.Get(e.pid); ok && stampOf(&pk) == e.seq {
			live = append(live, e)
		}
	}
	clear(s.rq[len(live):])
	s.rq, s.rqHead = live, 0
}

// replace stores pk, stamped, in place of the packet of its id in flight
// to cl: false if that one was acknowledged meanwhile (mochi's store has
// no compare-and-set: one put back is taken out again). The packet is
// counted once, as it was; under mu.
func (s *session) replace(cl *mqtt.Client, pk packets.Packet) bool {
	if cl.State.Inflight.Set(pk) {
		cl.State.Inflight.Delete(pk.PacketID)
		return false
	}
	return true
}

// acked: packet id pid of cl was acknowledged (PUBACK, PUBCOMP); under mu.
func (s *session) acked(pid uint16) {
	if s.rqHead < len(s.rq) && s.rq[s.rqHead].pid == pid {
		s.rqHead++
		if s.rqHead == len(s.rq) {
			s.rq, s.rqHead = s.rq[:0], 0
		}
	}
}

// pubrecd: cl's PUBREC for pid was handled (mochi stored the PUBREL it
// answered with): the PUBREL is re-sent retry_interval after it.
func (ss *sessions) pubrecd(cl *mqtt.Client, s *session, pid uint16) {
	iv := s.zone().RetryInterval
	if iv <= 0 {
		return
	}
	pk, ok := cl.State.Inflight.Get(pid)
	if !ok || pk.FixedHeader.Type != packets.Pubrel {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl != cl {
		return
	}
	now := monoNow()
	e := timed{at: now, seq: s.stamp(&pk), pid: pid}
	s.acked(pid) // the PUBLISH's note
	if !s.replace(cl, pk) {
		return
	}
	s.rq = append(s.rq, e)
	s.armAt(now + int64(iv))
}

// rearm notes again everything in flight to cl, which mochi has just
// re-sent on a resume; under mu.
func (s *session) rearm(cl *mqtt.Client) {
	s.rq, s.rqHead = s.rq[:0], 0
	iv := s.zone().RetryInterval
	if iv <= 0 || cl.State.Inflight.Len() == 0 {
		return
	}
	now := monoNow()
	for _, pk := range cl.State.Inflight.GetAll(false) {
		if t := pk.FixedHeader.Type; t != packets.Publish && t != packets.Pubrel {
			continue // awaiting PUBREL from the client (PUBREC), or done
		}
		seq := s.stamp(&pk)
		if s.replace(cl, pk) {
			s.rq = append(s.rq, timed{at: now, seq: seq, pid: pk.PacketID})
		}
	}
	if len(s.rq) > 0 {
		s.armAt(now + int64(iv))
	}
}

// onTimer re-sends what is due and drops the awaiting PUBRELs that timed
// out, and arms the timer for the next note.
func (s *session) onTimer() {
	s.mu.Lock()
	s.timerAt = 0
	now, z := monoNow(), s.zone()
	next := int64(0)
	if s.owner != nil && s.relHead < len(s.rel) {
		next = s.expireRel(s.owner, now, z.AwaitRelTimeout)
	}
	var out []packets.Packet
	cl := s.cl
	if cl != nil && !cl.Closed() && z.RetryInterval > 0 {
		var due int64
		out, due = s.retryDue(cl, now, int64(z.RetryInterval))
		if due != 0 && (next == 0 || due < next) {
			next = due
		}
	}
	if next != 0 {
		s.armAt(next)
	}
	s.mu.Unlock()
	for _, pk := range out {
		if cl.WritePacket(pk) != nil {
			break // gone: resent on a resume
		}
	}
	if len(out) > 0 {
		s.ss.resent.Add(int64(len(out)))
	}
}

// retryDue takes the notes older than iv, returning the packets to
// re-send (stamped and stored again, PUBLISH with DUP) and when the next
// note is due (0: none); under mu.
func (s *session) retryDue(cl *mqtt.Client, now, iv int64) (out []packets.Packet, next int64) {
	for s.rqHead < len(s.rq) {
		e := s.rq[s.rqHead]
		if due := e.at + iv; due > now {
			next = due
			break
		}
		s.rqHead++
		pk, ok := cl.State.Inflight.Get(e.pid)
		if !ok || stampOf(&pk) != e.seq {
			continue // acknowledged (its id may be another message's now)
		}
		switch pk.FixedHeader.Type {
		case packets.Publish:
			pk.FixedHeader.Dup = true // [MQTT-3.3.1-1]
		case packets.Pubrel:
		default:
			continue
		}
		seq := s.stamp(&pk)
		if !s.replace(cl, pk) {
			continue // acknowledged meanwhile
		}
		s.rq = append(s.rq, timed{at: now, seq: seq, pid: e.pid})
		out = append(out, pk)
	}
	if s.rqHead == len(s.rq) {
		s.rq, s.rqHead = s.rq[:0], 0
	} else if s.rqHead >= 64 && s.rqHead*2 >= len(s.rq) {
		n := copy(s.rq, s.rq[s.rqHead:])
		s.rq, s.rqHead = s.rq[:n], 0
	}
	return out, next
}

// expireRel drops the PUBLISHes of owner awaiting PUBREL for longer than
// timeout and returns when the next is due (0: none); under mu.
func (s *session) expireRel(owner *mqtt.Client, now int64, timeout time.Duration) (next int64) {
	for s.relHead < len(s.rel) {
		e := s.rel[s.relHead]
		if due := e.at + int64(timeout); timeout > 0 && due > now {
			next = due
			break
		}
		if timeout <= 0 {
			break // never expire
		}
		s.relHead++
		pk, ok := owner.State.Inflight.Get(e.pid)
		if !ok || pk.FixedHeader.Type != packets.Pubrec || stampOf(&pk) != e.seq {
			continue // released
		}
		if owner.State.Inflight.Delete(e.pid) {
			atomic.AddInt64(&s.ss.srv.Info.Inflight, -1)
		}
		owner.State.Inflight.IncreaseReceiveQuota() // mochi took it at the PUBLISH
		s.relN = max(0, s.relN-1)
		s.ss.relExpired.Add(1)
	}
	if s.relHead == len(s.rel) {
		s.rel, s.relHead = s.rel[:0], 0
	} else if s.relHead >= 64 && s.relHead*2 >= len(s.rel) {
		n := copy(s.rel, s.rel[s.relHead:])
		s.rel, s.relHead = s.rel[:n], 0
	}
	return next
}

// awaitRel is asked before mochi handles cl's QoS 2 PUBLISH with packet id
// pid: false when the session has max_awaiting_rel PUBLISHes awaiting
// PUBREL already and this is not one of them (EMQX's is_awaiting_full).
// c notes whether it is a new one (relAdded adds it once stored).
func (s *session) awaitRel(cl *mqtt.Client, c *conn, pid uint16, maxRel int) bool {
	if pk, ok := cl.State.Inflight.Get(pid); ok && pk.FixedHeader.Type == packets.Pubrec {
		c.relNew = false // a repeat: answered as the first
		return true
	}
	if maxRel > 0 {
		s.mu.Lock()
		full := s.relN >= maxRel
		if full && s.relHead < len(s.rel) {
			s.expireRel(cl, monoNow(), s.zone().AwaitRelTimeout)
			full = s.relN >= maxRel
		}
		s.mu.Unlock()
		if full {
			return false
		}
	}
	c.relNew, c.relPid = true, pid
	return true
}

// relAdded: mochi has handled cl's new QoS 2 PUBLISH pid: if it stored
// its PUBREC (awaiting PUBREL), the session counts it and times it.
func (s *session) relAdded(cl *mqtt.Client, pid uint16) {
	pk, ok := cl.State.Inflight.Get(pid)
	if !ok || pk.FixedHeader.Type != packets.Pubrec || stampOf(&pk) != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := monoNow()
	e := timed{at: now, seq: s.stamp(&pk), pid: pid}
	cl.State.Inflight.Set(pk)
	s.relN++
	if t := s.zone().AwaitRelTimeout; t > 0 {
		s.rel = append(s.rel, e)
		s.armAt(now + int64(t))
	}
}

// relFreeing is asked before mochi handles cl's PUBREL for pid: it is
// one the session counts (relFreed uncounts it once handled).
func relFreeing(cl *mqtt.Client, pid uint16) bool {
	pk, ok := cl.State.Inflight.Get(pid)
	return ok && pk.FixedHeader.Type == packets.Pubrec && stampOf(&pk) != 0
}

// relFreed: a PUBREL released a PUBLISH the session counted.
func (s *session) relFreed(pid uint16) {
	s.mu.Lock()
	s.relN = max(0, s.relN-1)
	if s.relHead < len(s.rel) && s.rel[s.relHead].pid == pid {
		s.relHead++
		if s.relHead == len(s.rel) {
			s.rel, s.relHead = s.rel[:0], 0
		}
	}
	s.mu.Unlock()
}
