package authmnesia

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"emqxgo/internal/access"
	"emqxgo/internal/access/passwd"
	"emqxgo/internal/testutil"
)

// newMem is a one-node table with the replicated table's contract; the
// cluster-wide behaviour is tested with real nodes in internal/node.
func newMem() *testutil.MemTable { return testutil.NewMemTable() }

func newDB() *DB {
	db := Open(newMem(), newMem())
	var tick int64
	db.now = func() time.Time { tick++; return time.UnixMilli(1_700_000_000_000 + tick) }
	return db
}

func auth(t *testing.T, p *Plugin, c access.Client) access.Result {
	t.Helper()
	r, err := p.Authenticate(context.Background(), &c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUsersAndClientIDs(t *testing.T) {
	db := newDB()
	alg := passwd.SHA256
	if err := db.AddUser(Username, "alice", []byte("pw1"), alg); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(Username, "alice", []byte("x"), alg); !errors.Is(err, ErrExisted) {
		t.Fatalf("second add: %v", err)
	}
	if err := db.UpdateUser(Username, "bob", []byte("x"), alg); !errors.Is(err, ErrNoExisted) {
		t.Fatalf("update of nobody: %v", err)
	}
	if err := db.AddUser(ClientID, "dev1", []byte("cpw"), alg); err != nil {
		t.Fatal(err)
	}
	_ = db.AddUser(Username, "bob", []byte("pw2"), alg)
	if got := db.Users(Username); !slices.Equal(got, []string{"bob", "alice"}) {
		t.Fatalf("users newest first: %v", got)
	}
	p := New(db, alg)
	for _, c := range []struct {
		c    access.Client
		want access.Result
	}{
		{access.Client{ClientID: "x", Username: "alice", Password: []byte("pw1")}, access.Allow},
		{access.Client{ClientID: "x", Username: "alice", Password: []byte("bad")}, access.Deny},
		{access.Client{ClientID: "x", Username: "carol", Password: []byte("pw1")}, access.Ignore},
		{access.Client{ClientID: "dev1", Password: []byte("cpw")}, access.Allow},
		{access.Client{ClientID: "dev1", Username: "alice", Password: []byte("pw1")}, access.Allow}, // either record may match
		{access.Client{ClientID: "dev1", Password: nil}, access.Deny},
	} {
		if got := auth(t, p, c.c); got != c.want {
			t.Errorf("%+v: %v, want %v", c.c, got, c.want)
		}
	}
	if err := db.UpdateUser(Username, "alice", []byte("new"), alg); err != nil {
		t.Fatal(err)
	}
	if auth(t, p, access.Client{Username: "alice", Password: []byte("pw1")}) != access.Deny ||
		auth(t, p, access.Client{Username: "alice", Password: []byte("new")}) != access.Allow {
		t.Fatal("update did not change the password")
	}
	db.DeleteUser(Username, "alice")
	if auth(t, p, access.Client{Username: "alice", Password: []byte("new")}) != access.Ignore {
		t.Fatal("deleted user still known")
	}
	// Another hash: the stored records are checked with the configured one.
	db2 := newDB()
	_ = db2.AddUser(Username, "u", []byte("p"), passwd.Plain)
	if auth(t, New(db2, passwd.Plain), access.Client{Username: "u", Password: []byte("p")}) != access.Allow {
		t.Fatal("plain")
	}
}

func TestSeedKeepsChangedPassword(t *testing.T) {
	db := newDB()
	if kept, err := db.Seed(Username, "admin", "public", passwd.SHA256); kept || err != nil {
		t.Fatal(kept, err)
	}
	if kept, err := db.Seed(Username, "admin", "public", passwd.SHA256); kept || err != nil {
		t.Fatalf("same password again: %v %v", kept, err)
	}
	_ = db.UpdateUser(Username, "admin", []byte("changed"), passwd.SHA256)
	if kept, _ := db.Seed(Username, "admin", "public", passwd.SHA256); !kept {
		t.Fatal("a changed password must be kept and reported")
	}
}

func TestACL(t *testing.T) {
	db := newDB()
	p := New(db, passwd.SHA256)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AddACL(All, "", "#", "pubsub", "deny"))
	must(db.AddACL(All, "", "public/#", "sub", "allow"))
	must(db.AddACL(Username, "alice", "users/%u/#", "pubsub", "allow"))
	must(db.AddACL(ClientID, "dev1", "devices/%c/up", "pub", "allow"))
	must(db.AddACL(ClientID, "dev1", "devices/dev1/#", "sub", "deny"))
	check := func(c access.Client, a access.Action, topic string) access.Result {
		r, _ := p.CheckACL(context.Background(), &c, a, topic)
		return r
	}
	alice := access.Client{ClientID: "a1", Username: "alice"}
	dev := access.Client{ClientID: "dev1"}
	for _, c := range []struct {
		c     access.Client
		a     access.Action
		topic string
		want  access.Result
	}{
		{alice, access.Publish, "users/alice/x", access.Allow},
		{alice, access.Subscribe, "users/alice/#", access.Allow},
		{alice, access.Publish, "users/bob/x", access.Deny},                       // falls to $all #
		{alice, access.Subscribe, "public/news", access.Allow},                    // newest $all rule first
		{alice, access.Publish, "public/news", access.Deny},                       // sub-only rule
		{dev, access.Publish, "devices/dev1/up", access.Allow},                    // client id rules first
		{dev, access.Subscribe, "devices/dev1/down", access.Deny},                 //
		{dev, access.Publish, "$SYS/x", access.Ignore},                            // '#' does not match $ topics
		{access.Client{ClientID: "z"}, access.Publish, "users/%u/x", access.Deny}, // no user name: %u stays
	} {
		if got := check(c.c, c.a, c.topic); got != c.want {
			t.Errorf("%s %v %s: %v, want %v", c.c.ClientID, c.a, c.topic, got, c.want)
		}
	}
	want := []string{
		`Acl(clientid = <<"dev1">> topic = <<"devices/dev1/#">> action = sub access = deny)`,
		`Acl(clientid = <<"dev1">> topic = <<"devices/%c/up">> action = pub access = allow)`,
	}
	var got []string
	for _, r := range db.Rules(ClientID, "dev1") {
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("show clientid dev1:\n%q\nwant\n%q", got, want)
	}
	db.DeleteACL(ClientID, "dev1", "devices/dev1/#")
	if check(dev, access.Subscribe, "devices/dev1/down") != access.Deny { // now $all #
		t.Fatal("after delete")
	}
	if n := len(db.Rules("", "")); n != 6 {
		t.Fatalf("%d rules, want 6 (pubsub counts twice)", n)
	}
	if s := (Rule{Kind: All, Topic: "#", Action: "pub", Access: "deny"}).String(); s != `Acl($all topic = <<"#">> action = pub access = deny)` {
		t.Fatal(s)
	}
}

func TestTopicMatch(t *testing.T) {
	for _, c := range []struct {
		name, filter string
		want         bool
	}{
		{"a/b", "a/+", true}, {"a", "a/#", true}, {"a/b/c", "a/#", true}, {"a/b", "+", false},
		{"$SYS/a", "#", false}, {"$SYS/a", "$SYS/#", true}, {"a/#", "a/+", true}, {"a/+", "a/b", false},
	} {
		if got := topicMatch(c.name, c.filter); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.name, c.filter, got)
		}
	}
}
