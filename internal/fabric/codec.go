package fabric

import (
	"encoding/binary"
	"errors"

	"emqxgo/internal/wire"
)

// The forward batch is the hot path of the cluster: it has its own compact
// binary form instead of reflection-driven msgpack (about ten times cheaper).
//
//	batch   = version(1) epoch(varint) count(uvarint) message*
//	message = flags(uvarint) seq(uvarint) topic(str) payload(bytes) qos(1)
//	          [expiry(uvarint)] [pfi(1)] [ct(str)] [resp(str)] [corr(bytes)]
//	          [users(uvarint, (str str)*)] [from(str)] [groups(uvarint, (str str)*)]
//	          [ts(varint) node(str)]
//
// str and bytes are a uvarint length then the bytes; optional fields are
// present when their flag bit is set.
const batchVersion = 1

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
)

var errBadBatch = errors.New("malformed forward batch")

func encodeBatch(epoch int64, msgs []*message) []byte {
	n := 16
	for _, m := range msgs {
		n += 32 + len(m.Topic) + len(m.Payload)
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.AppendVarint(b, epoch)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		var fl uint64
		set := func(bit uint64, on bool) {
			if on {
				fl |= bit
			}
		}
		set(fRetain, m.Retain)
		set(fExpiry, m.Expiry > 0)
		set(fPFI, m.HasPFI)
		set(fCT, m.CT != "")
		set(fResp, m.Resp != "")
		set(fCorr, len(m.Corr) > 0)
		set(fUser, len(m.User) > 0)
		set(fFrom, m.From != "")
		set(fGroups, len(m.Groups) > 0)
		set(fSharedOnly, m.SharedOnly)
		set(fStore, m.TS != 0)
		b = binary.AppendUvarint(b, fl)
		b = binary.AppendUvarint(b, m.Seq)
		b = wire.AppendBytes(b, m.Topic)
		b = wire.AppendBytes(b, m.Payload)
		b = append(b, m.QoS)
		if fl&fExpiry != 0 {
			b = binary.AppendUvarint(b, uint64(m.Expiry))
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
	}
	return b
}

func decodeBatch(b []byte) (*fwdBatch, error) {
	r := &wire.Reader{B: b}
	if r.Byte() != batchVersion {
		return nil, errBadBatch
	}
	out := &fwdBatch{Epoch: r.Varint()}
	n := r.Count()
	out.Msgs = make([]*message, 0, n)
	for i := 0; i < n && r.Err == nil; i++ {
		m := &message{}
		fl := r.Uvarint()
		m.Seq = r.Uvarint()
		m.Topic = r.Str()
		m.Payload = r.Bytes()
		m.QoS = r.Byte()
		m.Retain, m.SharedOnly = fl&fRetain != 0, fl&fSharedOnly != 0
		if fl&fExpiry != 0 {
			m.Expiry = uint32(r.Uvarint())
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
		if m.QoS > 2 {
			r.Err = wire.ErrMalformed
		}
		out.Msgs = append(out.Msgs, m)
	}
	if r.Err != nil {
		return nil, errBadBatch
	}
	return out, nil
}
