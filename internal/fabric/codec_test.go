package fabric

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"
)

func TestBatchRoundTrip(t *testing.T) {
	in := []*message{
		{Seq: 7, Topic: "a/b", Payload: []byte("x"), QoS: 1, Retain: true, Expiry: 60, PFI: 1, HasPFI: true, CT: "text/plain",
			Resp: "r/t", Corr: []byte{1, 2}, User: [][2]string{{"k", "v"}, {"k", "w"}}, From: "c1",
			Groups: map[string]string{"$share/g/a/+": "c9"}, SharedOnly: true},
		{Topic: "plain", Payload: []byte{}, QoS: 0},
		{Seq: 8, Topic: "ret", Payload: nil, QoS: 1, Retain: true, TS: 12345, Node: "emqx@h"},
	}
	out, err := decodeBatch(encodeBatch(-42, in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Epoch != -42 || len(out.Msgs) != len(in) {
		t.Fatalf("%+v", out)
	}
	for i := range in {
		want, got := *in[i], *out.Msgs[i]
		if len(want.Payload) == 0 && len(got.Payload) == 0 {
			want.Payload, got.Payload = nil, nil
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("message %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	for _, bad := range [][]byte{nil, {2}, {3, 0, 0, 0}, {1, 0, 5}, {1, 0, 1, 0, 0, 200}, encodeBatch(1, in)[:20]} {
		if _, err := decodeBatch(bad); err == nil {
			t.Fatalf("decoded %x", bad)
		}
	}
}

// FuzzDecodeBatch: peers' bytes never panic the decoder.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(1, []*message{{Seq: 1, Topic: "t", Payload: []byte("p"), QoS: 1, User: [][2]string{{"a", "b"}}}}))
	f.Add([]byte{1, 2, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		if out, err := decodeBatch(b); err == nil {
			_ = encodeBatch(out.Epoch, out.Msgs)
		}
	})
}

func TestInboundGapIsResent(t *testing.T) {
	in := &inbound{}
	for _, c := range []struct {
		seq   uint64
		fresh bool
		last  uint64
	}{
		{1, true, 1}, {2, true, 2}, {4, true, 2}, {5, true, 2}, {4, false, 2}, {2, false, 2}, {3, true, 5}, {5, false, 5}, {6, true, 6},
	} {
		if got := in.fresh(c.seq); got != c.fresh || in.lastSeq != c.last {
			t.Fatalf("seq %d: fresh %v last %d, want %v %d", c.seq, got, in.lastSeq, c.fresh, c.last)
		}
	}
	if len(in.above) != 0 {
		t.Fatalf("above not drained: %v", in.above)
	}
}

// TestFullRouteSetKeepsRoutesThatStay: a full set replacing a peer's routes
// never removes one that is in both, so a publish racing a reconnect (each
// reconnect brings a full set) always finds it.
func TestFullRouteSetKeepsRoutesThatStay(t *testing.T) {
	r := newRoutes(&Fabric{self: "me"})
	r.apply("p", &routeUpdate{Full: true, Add: []route{{Filter: "a/#"}, {Filter: "b"}}})
	done := make(chan struct{})
	missing := 0
	go func() {
		defer close(done)
		for i := 0; i < 20000; i++ {
			if len(r.peersFor("a/x")) != 1 {
				missing++
			}
		}
	}()
	for i := 0; i < 2000; i++ {
		other := route{Filter: "b"}
		if i%2 == 1 {
			other = route{Filter: "c"}
		}
		r.apply("p", &routeUpdate{Full: true, Add: []route{other, {Filter: "a/#"}}})
	}
	<-done
	if missing != 0 {
		t.Fatalf("route a/# missing from the index %d times during full-set replacements", missing)
	}
	if len(r.peersFor("b")) != 0 || len(r.peersFor("c")) != 1 || r.entries.Load() != 2 {
		t.Fatalf("after the last full set: b %v, c %v, entries %d", r.peersFor("b"), r.peersFor("c"), r.entries.Load())
	}
}

// everyField is a message with every field set to a value other than its
// zero, by reflection: a field added to message and forgotten by the codec
// fails the round trips below.
func everyField(t *testing.T) *message {
	t.Helper()
	m := &message{}
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() {
			continue // the sender's own state (expireAt, expired), not a field of the form
		}
		switch {
		case name == "QoS":
			f.SetUint(2) // at most 2
		case f.Kind() == reflect.String:
			f.SetString("v-" + name)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.CanUint():
			f.SetUint(uint64(100 + i))
		case f.CanInt():
			f.SetInt(int64(-1000 - i))
		case f.Type() == reflect.TypeOf([]byte(nil)):
			f.SetBytes([]byte("b-" + name))
		case f.Type() == reflect.TypeOf([][2]string(nil)):
			f.Set(reflect.ValueOf([][2]string{{"k1", "v1"}, {"k1", "v2"}}))
		case f.Type() == reflect.TypeOf(map[string]string(nil)):
			f.Set(reflect.ValueOf(map[string]string{"$share/g/a": "c1", "$share/h/#": "c2"}))
		default:
			t.Fatalf("message.%s (%s): teach everyField this type", name, f.Type())
		}
	}
	return m
}

func TestMessageCodecEveryField(t *testing.T) {
	m := everyField(t)
	out, err := decodeBatch(encodeBatch(9, []*message{m}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Msgs[0], m) {
		t.Fatalf("forward batch lost a field:\n got %+v\nwant %+v", out.Msgs[0], m)
	}
	in := []inflight{{ID: 1, Msg: m}, {ID: 65535, Msg: &message{Topic: "t", Payload: []byte("p"), QoS: 1}}}
	got, err := decodeInflight(encodeInflight(in), false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("takeover inflight changed:\n got %+v\nwant %+v", got, in)
	}
	b := encodeInflight(in)
	for k := 1; k < len(b); k++ {
		if _, err := decodeInflight(b[:k], false); err == nil {
			t.Fatalf("inflight truncated to %d bytes decoded", k)
		}
	}
	if _, err := decodeInflight(append(b, 0), false); err == nil {
		t.Fatal("inflight with trailing bytes decoded")
	}
	if got, err := decodeInflight(nil, false); err != nil || got != nil {
		t.Fatalf("empty inflight: %v %v", got, err)
	}
	q := []inflight{{Msg: m}, {Msg: &message{Topic: "t", Payload: []byte("p"), QoS: 1}}}
	if got, err := decodeInflight(encodeInflight(q), true); err != nil || !reflect.DeepEqual(got, q) {
		t.Fatalf("takeover queue changed: %v\n got %+v\nwant %+v", err, got, q)
	}
	if _, err := decodeInflight(encodeInflight(q), false); err == nil {
		t.Fatal("queued messages (id 0) taken for messages in flight")
	}
	if _, err := decodeInflight(b, true); err == nil {
		t.Fatal("messages in flight taken for queued ones")
	}
}

// TestBatchSendsWhatIsLeftOfTheExpiry: a forward batch carries the expiry
// left when it is encoded, not when the message entered the outbox; one
// whose expiry ran out meanwhile goes as expired; a retained table change
// keeps its own.
func TestBatchSendsWhatIsLeftOfTheExpiry(t *testing.T) {
	now := time.Now().Unix()
	msgs := []*message{
		{Topic: "left", QoS: 1, Expiry: 60, expireAt: now + 10},
		{Topic: "gone", QoS: 1, Expiry: 60, expireAt: now - 1},
		{Topic: "none", QoS: 1},
		{Topic: "table", Expiry: 60, expireAt: now - 1, TS: 7, Node: "n"},
	}
	out, err := decodeBatch(encodeBatch(1, msgs))
	if err != nil {
		t.Fatal(err)
	}
	got := out.Msgs
	if got[0].expired || got[0].Expiry < 9 || got[0].Expiry > 10 {
		t.Fatalf("left: expiry %d expired %v, want 9-10 s", got[0].Expiry, got[0].expired)
	}
	if !got[1].expired || got[1].Expiry != 0 {
		t.Fatalf("gone: expiry %d expired %v, want expired", got[1].Expiry, got[1].expired)
	}
	if got[2].expired || got[2].Expiry != 0 {
		t.Fatalf("none: expiry %d expired %v, want no expiry", got[2].Expiry, got[2].expired)
	}
	if got[3].expired || got[3].Expiry != 60 {
		t.Fatalf("table change: expiry %d expired %v, want its own 60 s", got[3].Expiry, got[3].expired)
	}
}

// TestBatchAgesOnTheWay: a batch says when it was encoded, and the
// receiver takes off each expiry the seconds since (a batch held in a
// link's queue, the socket or a reader that did not run); one that ran out
// meanwhile arrives expired. A receiver whose clock is behind takes nothing
// off; a retained table change and a message without expiry are left as
// they are; a batch of version 1 (no time) is read as it was.
func TestBatchAgesOnTheWay(t *testing.T) {
	now := time.Now().Unix()
	batch := func() []*message {
		return []*message{
			{Topic: "ten", QoS: 1, Expiry: 60, expireAt: now + 10},
			{Topic: "two", QoS: 1, Expiry: 60, expireAt: now + 2},
			{Topic: "gone", QoS: 1, Expiry: 60, expireAt: now},
			{Topic: "none", QoS: 1},
			{Topic: "table", Expiry: 60, expireAt: now, TS: 7, Node: "n"},
		}
	}
	sent := encodeBatchAt(1, batch(), now-3) // encoded 3 s ago
	out, err := decodeBatch(sent)
	if err != nil {
		t.Fatal(err)
	}
	if out.At != now-3 || out.Msgs[0].Expiry != 13 || out.Msgs[2].expired {
		t.Fatalf("as sent: at %d, ten %d s, gone expired %v; want %d, 13 s, not expired", out.At, out.Msgs[0].Expiry, out.Msgs[2].expired, now-3)
	}
	out.age(now)
	for i, want := range []struct {
		expiry  uint32
		expired bool
	}{{10, false}, {2, false}, {0, true}, {0, false}, {60, false}} {
		if m := out.Msgs[i]; m.Expiry != want.expiry || m.expired != want.expired {
			t.Fatalf("%s after 3 s on the way: expiry %d expired %v, want %d %v", m.Topic, m.Expiry, m.expired, want.expiry, want.expired)
		}
	}

	behind, _ := decodeBatch(sent)
	behind.age(now - 5) // the receiver's clock is behind the sender's
	if behind.Msgs[0].Expiry != 13 || behind.Msgs[2].expired {
		t.Fatalf("receiver behind: ten %d s, gone expired %v; want 13 s and not expired", behind.Msgs[0].Expiry, behind.Msgs[2].expired)
	}

	// Version 1: no time after the epoch.
	v1 := append([]byte{1}, binary.AppendVarint(nil, 1)...)
	v1 = binary.AppendUvarint(v1, 1)
	v1 = appendMessage(v1, &message{Topic: "old", QoS: 1, Expiry: 5})
	old, err := decodeBatch(v1)
	if err != nil {
		t.Fatal(err)
	}
	old.age(now)
	if old.At != 0 || old.Msgs[0].Expiry != 5 {
		t.Fatalf("version 1: at %d expiry %d, want 0 and 5 s", old.At, old.Msgs[0].Expiry)
	}
}
