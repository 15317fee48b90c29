package banned

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"emqxgo/internal/testutil"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newMem is a one-node table; the cluster-wide behaviour is tested with
// real nodes in internal/node.
func newMem() *testutil.MemTable { return testutil.NewMemTable() }

// TestListAddCheckDelete: each kind of entry refuses what it names and
// nothing else, until its end; a peer host is matched in its canonical
// form; Delete lifts a ban; bad entries are refused.
func TestListAddCheckDelete(t *testing.T) {
	tab := newMem()
	l := Open(tab)
	now := time.UnixMilli(1_700_000_000_000)
	l.now = func() time.Time { return now }
	peer := netip.MustParseAddr("10.0.0.7")
	if _, ok := l.Check("c", "u", peer); ok {
		t.Fatal("empty list bans")
	}
	e, err := l.Add(Entry{Who: ClientID, Value: "c", Reason: "r", By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !e.At.Equal(now) || !e.Until.Equal(now.Add(DefaultDuration)) {
		t.Fatalf("defaults: at %v until %v", e.At, e.Until)
	}
	if _, err := l.Add(Entry{Who: Username, Value: "u", At: now, Until: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if e, err := l.Add(Entry{Who: PeerHost, Value: "::ffff:10.0.0.7", At: now.Add(time.Second), Until: now.Add(time.Hour)}); err != nil || e.Value != "10.0.0.7" {
		t.Fatalf("peerhost add: %+v %v", e, err)
	}
	for _, c := range []struct {
		id, user string
		peer     netip.Addr
		want     Who
	}{
		{"c", "", netip.Addr{}, ClientID},
		{"x", "u", netip.Addr{}, Username},
		{"x", "y", netip.MustParseAddr("::ffff:10.0.0.7"), PeerHost},
		{"c", "u", peer, ClientID},
	} {
		e, ok := l.Check(c.id, c.user, c.peer)
		if !ok || e.Who != c.want {
			t.Fatalf("check(%q, %q, %v) = %+v %v, want banned by %s", c.id, c.user, c.peer, e, ok, c.want)
		}
	}
	if _, ok := l.Check("x", "y", netip.MustParseAddr("10.0.0.8")); ok {
		t.Fatal("an unlisted client is banned")
	}
	if got := l.List(); len(got) != 3 || got[0].Who != ClientID || got[1].Who != Username || got[2].Who != PeerHost || got[0].Reason != "r" || got[0].By != "test" {
		t.Fatalf("list: %+v", got)
	}
	now = now.Add(2 * time.Minute) // past the user name's end
	if _, ok := l.Check("x", "u", netip.Addr{}); ok {
		t.Fatal("an expired ban still applies")
	}
	if len(l.List()) != 2 {
		t.Fatalf("list shows an expired entry: %+v", l.List())
	}
	if v, _ := tab.Get("username:u"); !Expired(v, now) || Expired(v, now.Add(-2*time.Minute)) {
		t.Fatal("Expired does not tell the table when the entry runs out")
	}
	if err := l.Delete(ClientID, "c"); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Check("c", "", netip.Addr{}); ok {
		t.Fatal("a deleted ban still applies")
	}
	for _, bad := range []Entry{
		{Who: "host", Value: "x"},
		{Who: ClientID},
		{Who: PeerHost, Value: "not-an-ip"},
		{Who: ClientID, Value: "c", At: now, Until: now},
	} {
		if _, err := l.Add(bad); err == nil {
			t.Fatalf("add %+v accepted", bad)
		}
	}
	if err := l.Delete("host", "x"); !errors.Is(err, ErrWho) {
		t.Fatalf("delete of a bad who: %v", err)
	}
}
