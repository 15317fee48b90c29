package fabric

import (
	"encoding/binary"
	"errors"
	"math"
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

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

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
		b = appendStr(b, m.Topic)
		b = appendBytes(b, m.Payload)
		b = append(b, m.QoS)
		if fl&fExpiry != 0 {
			b = binary.AppendUvarint(b, uint64(m.Expiry))
		}
		if fl&fPFI != 0 {
			b = append(b, m.PFI)
		}
		if fl&fCT != 0 {
			b = appendStr(b, m.CT)
		}
		if fl&fResp != 0 {
			b = appendStr(b, m.Resp)
		}
		if fl&fCorr != 0 {
			b = appendBytes(b, m.Corr)
		}
		if fl&fUser != 0 {
			b = binary.AppendUvarint(b, uint64(len(m.User)))
			for _, u := range m.User {
				b = appendStr(appendStr(b, u[0]), u[1])
			}
		}
		if fl&fFrom != 0 {
			b = appendStr(b, m.From)
		}
		if fl&fGroups != 0 {
			b = binary.AppendUvarint(b, uint64(len(m.Groups)))
			for k, v := range m.Groups {
				b = appendStr(appendStr(b, k), v)
			}
		}
		if fl&fStore != 0 {
			b = binary.AppendVarint(b, m.TS)
			b = appendStr(b, m.Node)
		}
	}
	return b
}

// reader decodes with bounds checks; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadBatch
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadBatch
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errBadBatch
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadBatch
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string { return string(r.bytes()) }

// count reads a collection length that must fit in what is left.
func (r *reader) count() int {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) || n > math.MaxInt32 {
		r.err = errBadBatch
		return 0
	}
	return int(n)
}

func decodeBatch(b []byte) (*fwdBatch, error) {
	r := &reader{b: b}
	if r.byte1() != batchVersion {
		return nil, errBadBatch
	}
	out := &fwdBatch{Epoch: r.varint()}
	n := r.count()
	out.Msgs = make([]*message, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		m := &message{}
		fl := r.uvarint()
		m.Seq = r.uvarint()
		m.Topic = r.str()
		m.Payload = r.bytes()
		m.QoS = r.byte1()
		m.Retain, m.SharedOnly = fl&fRetain != 0, fl&fSharedOnly != 0
		if fl&fExpiry != 0 {
			m.Expiry = uint32(r.uvarint())
		}
		if fl&fPFI != 0 {
			m.PFI, m.HasPFI = r.byte1(), true
		}
		if fl&fCT != 0 {
			m.CT = r.str()
		}
		if fl&fResp != 0 {
			m.Resp = r.str()
		}
		if fl&fCorr != 0 {
			m.Corr = r.bytes()
		}
		if fl&fUser != 0 {
			k := r.count()
			for j := 0; j < k && r.err == nil; j++ {
				m.User = append(m.User, [2]string{r.str(), r.str()})
			}
		}
		if fl&fFrom != 0 {
			m.From = r.str()
		}
		if fl&fGroups != 0 {
			k := r.count()
			m.Groups = make(map[string]string, k)
			for j := 0; j < k && r.err == nil; j++ {
				key := r.str()
				m.Groups[key] = r.str()
			}
		}
		if fl&fStore != 0 {
			m.TS, m.Node = r.varint(), r.str()
			if m.TS == 0 {
				r.err = errBadBatch
			}
		}
		if m.QoS > 2 {
			r.err = errBadBatch
		}
		out.Msgs = append(out.Msgs, m)
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}
