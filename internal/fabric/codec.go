package fabric

import (
	"encoding/binary"
	"errors"
	"time"

	"emqxgo/internal/wire"
)

// A message crossing a link has one binary form, written by appendMessage
// and read by readMessage: in forward batches (the hot path of the cluster,
// about ten times cheaper than reflection-driven msgpack) and in the
// inflight messages a session takeover hands over.
//
//	batch    = version(1) epoch(varint) at(varint) count(uvarint) message*
//	inflight = count(uvarint) (packet id(uvarint) message)*
//	message  = flags(uvarint) seq(uvarint) id(uvarint) topic(str) payload(bytes) qos(1)
//	           [expiry(uvarint)] [pfi(1)] [ct(str)] [resp(str)] [corr(bytes)]
//	           [users(uvarint, (str str)*)] [from(str)] [groups(uvarint, (str str)*)]
//	           [ts(varint) node(str)] [marker: node(str)]
//
// str and bytes are a uvarint length then the bytes; optional fields are
// present when their flag bit is set. at is when the batch was encoded
// (Unix seconds, the sender's clock; version 1 had none): each expiry is
// what was left of it then, and the receiver takes off what passed since
// (fwdBatch.age).
const batchVersion = 2

const (
	fRetain = 1 << iota
	fExpiry
	fPFI
	fCT
	fResp
	fCorr
	fUser
	fFrom
	fGroups
	fSharedOnly
	fStore
	fMarker
)

var errBadBatch = errors.New("malformed forward batch")

func encodeBatch(epoch int64, msgs []*message) []byte {
	return encodeBatchAt(epoch, msgs, time.Now().Unix())
}

// encodeBatchAt is encodeBatch at now (Unix seconds).
func encodeBatchAt(epoch int64, msgs []*message, now int64) []byte {
	n := 24
	for _, m := range msgs {
		n += 32 + len(m.Topic) + len(m.Payload)
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.AppendVarint(b, epoch)
	b = binary.AppendVarint(b, now)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		b = appendMessageAt(b, m, now)
	}
	return b
}

func decodeBatch(b []byte) (*fwdBatch, error) {
	r := &wire.Reader{B: b}
	v := r.Byte()
	if v != 1 && v != batchVersion {
		return nil, errBadBatch
	}
	out := &fwdBatch{Epoch: r.Varint()}
	if v >= 2 {
		out.At = r.Varint()
	}
	n := r.Count()
	out.Msgs = make([]*message, 0, n)
	for i := 0; i < n && r.Err == nil; i++ {
		out.Msgs = append(out.Msgs, readMessage(r))
	}
	if r.Err != nil {
		return nil, errBadBatch
	}
	return out, nil
}

// encodeInflight writes a session's unacknowledged messages for a takeover.
func encodeInflight(in []inflight) []byte {
	b := binary.AppendUvarint(nil, uint64(len(in)))
	for _, x := range in {
		b = binary.AppendUvarint(b, uint64(x.ID))
		b = appendMessage(b, x.Msg)
	}
	return b
}

// decodeInflight reads encodeInflight's form; no bytes: no messages.
// Messages in flight have packet ids; queued ones (queued) have id 0.
func decodeInflight(b []byte, queued bool) ([]inflight, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r := &wire.Reader{B: b}
	n := r.Count()
	out := make([]inflight, 0, n)
	for i := 0; i < n && r.Err == nil; i++ {
		id := r.Uvarint()
		if (id == 0) != queued || id > 0xffff {
			r.Err = wire.ErrMalformed
		}
		out = append(out, inflight{ID: uint16(id), Msg: readMessage(r)})
	}
	if r.Err == nil && len(r.B) != 0 {
		r.Err = wire.ErrMalformed
	}
	if r.Err != nil {
		return nil, errors.New("malformed takeover inflight")
	}
	return out, nil
}

// appendMessage appends the binary form of m.
func appendMessage(b []byte, m *message) []byte { return appendMessageAt(b, m, 0) }

// appendMessageAt is appendMessage at now (Unix seconds; 0: as m says):
// the expiry is what is left of it then, and a message whose expiry has
// run out goes as expired (the flag with 0).
func appendMessageAt(b []byte, m *message, now int64) []byte {
	expiry, expired := m.Expiry, m.expired
	if now != 0 && m.expireAt != 0 && m.TS == 0 { // a retained table change keeps its own expiry (retained.go)
		if left := m.expireAt - now; left <= 0 {
			expiry, expired = 0, true
		} else {
			expiry = min(expiry, uint32(left))
		}
	}
	var fl uint64
	set := func(bit uint64, on bool) {
		if on {
			fl |= bit
		}
	}
	set(fRetain, m.Retain)
	set(fExpiry, expiry > 0 || expired)
	set(fPFI, m.HasPFI)
	set(fCT, m.CT != "")
	set(fResp, m.Resp != "")
	set(fCorr, len(m.Corr) > 0)
	set(fUser, len(m.User) > 0)
	set(fFrom, m.From != "")
	set(fGroups, len(m.Groups) > 0)
	set(fSharedOnly, m.SharedOnly)
	set(fStore, m.TS != 0)
	set(fMarker, m.Marker)
	b = binary.AppendUvarint(b, fl)
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendUvarint(b, m.ID)
	b = wire.AppendBytes(b, m.Topic)
	b = wire.AppendBytes(b, m.Payload)
	b = append(b, m.QoS)
	if fl&fExpiry != 0 {
		b = binary.AppendUvarint(b, uint64(expiry))
	}
	if fl&fPFI != 0 {
		b = append(b, m.PFI)
	}
	if fl&fCT != 0 {
		b = wire.AppendBytes(b, m.CT)
	}
	if fl&fResp != 0 {
		b = wire.AppendBytes(b, m.Resp)
	}
	if fl&fCorr != 0 {
		b = wire.AppendBytes(b, m.Corr)
	}
	if fl&fUser != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.User)))
		for _, u := range m.User {
			b = wire.AppendBytes(wire.AppendBytes(b, u[0]), u[1])
		}
	}
	if fl&fFrom != 0 {
		b = wire.AppendBytes(b, m.From)
	}
	if fl&fGroups != 0 {
		b = binary.AppendUvarint(b, uint64(len(m.Groups)))
		for k, v := range m.Groups {
			b = wire.AppendBytes(wire.AppendBytes(b, k), v)
		}
	}
	if fl&fStore != 0 {
		b = binary.AppendVarint(b, m.TS)
		b = wire.AppendBytes(b, m.Node)
	}
	if fl&fMarker != 0 {
		b = wire.AppendBytes(b, m.Node)
	}
	return b
}

// readMessage reads one message; malformed input sets r.Err.
func readMessage(r *wire.Reader) *message {
	m := &message{}
	fl := r.Uvarint()
	m.Seq = r.Uvarint()
	m.ID = r.Uvarint()
	m.Topic = r.Str()
	m.Payload = r.Bytes()
	m.QoS = r.Byte()
	m.Retain, m.SharedOnly = fl&fRetain != 0, fl&fSharedOnly != 0
	if fl&fExpiry != 0 {
		m.Expiry = uint32(r.Uvarint())
		m.expired = m.Expiry == 0
	}
	if fl&fPFI != 0 {
		m.PFI, m.HasPFI = r.Byte(), true
	}
	if fl&fCT != 0 {
		m.CT = r.Str()
	}
	if fl&fResp != 0 {
		m.Resp = r.Str()
	}
	if fl&fCorr != 0 {
		m.Corr = r.Bytes()
	}
	if fl&fUser != 0 {
		k := r.Count()
		for j := 0; j < k && r.Err == nil; j++ {
			m.User = append(m.User, [2]string{r.Str(), r.Str()})
		}
	}
	if fl&fFrom != 0 {
		m.From = r.Str()
	}
	if fl&fGroups != 0 {
		k := r.Count()
		m.Groups = make(map[string]string, k)
		for j := 0; j < k && r.Err == nil; j++ {
			key := r.Str()
			m.Groups[key] = r.Str()
		}
	}
	if fl&fStore != 0 {
		m.TS, m.Node = r.Varint(), r.Str()
		if m.TS == 0 {
			r.Err = wire.ErrMalformed
		}
	}
	if fl&fMarker != 0 {
		m.Marker, m.Node = true, r.Str()
	}
	if m.QoS > 2 {
		r.Err = wire.ErrMalformed
	}
	return m
}
