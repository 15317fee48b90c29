package acl

import (
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"emqxgo/internal/access"
)

const (
	pub = access.Publish
	sub = access.Subscribe
	A   = access.Allow
	D   = access.Deny
	I   = access.Ignore
)

func client(user, id, ip string) *access.Client {
	c := &access.Client{Username: user, ClientID: id}
	if ip != "" {
		c.Peer = netip.AddrPortFrom(netip.MustParseAddr(ip), 50000)
	}
	return c
}

func mustParse(t testing.TB, src string) *Rules {
	t.Helper()
	rs, err := Parse("acl.conf", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return rs
}

type check struct {
	c     *access.Client
	a     access.Action
	topic string
	want  access.Result
}

func runChecks(t *testing.T, rs *Rules, cs []check) {
	t.Helper()
	for _, k := range cs {
		if got := rs.Check(k.c, k.a, k.topic); got != k.want {
			t.Errorf("%s %q by user=%q client=%q peer=%v: got %v, want %v",
				k.a, k.topic, k.c.Username, k.c.ClientID, k.c.Peer, got, k.want)
		}
	}
}

// shippedFile is etc/acl.conf at the repository root.
func shippedFile(t testing.TB) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..", "etc", "acl.conf")
}

func TestShippedDefaultFile(t *testing.T) {
	src, err := os.ReadFile(shippedFile(t))
	if err != nil {
		t.Fatal(err)
	}
	rs := mustParse(t, string(src))
	if rs.Len() != 4 {
		t.Fatalf("%d rules, want EMQX's four", rs.Len())
	}
	remote := client("u1", "c1", "10.0.0.1")
	local := client("u1", "c1", "127.0.0.1")
	dash := client("dashboard", "c2", "10.0.0.1")
	runChecks(t, rs, []check{
		{remote, sub, "#", D},
		{remote, sub, "a/#", A},
		{remote, sub, "+/#", A}, // not literally "#": the {eq, "#"} rule leaves it
		{remote, sub, "$SYS/#", D},
		{remote, sub, "$SYS/brokers/n1/clients", D},
		{remote, pub, "$SYS/anything", A},
		{remote, pub, "a/b/c", A},
		{local, sub, "#", A},
		{local, sub, "$SYS/#", A},
		{client("", "c3", "::ffff:127.0.0.1"), sub, "#", A}, // an IPv4 client seen through a dual-stack listener
		{client("", "c3", "::1"), sub, "#", D},
		{dash, sub, "$SYS/brokers/#", A},
		{dash, sub, "#", D},
		{client("dashboard", "c2", ""), sub, "$SYS/brokers/n1/uptime", A},
		{client("", "", ""), pub, "x", A},
	})
}

func TestRuleForms(t *testing.T) {
	rs := mustParse(t, `
{allow, {user, "alice"}, publish, ["u/alice/#"]}.
{allow, {client, "c-9"}, subscribe, ["cid/#"]}.
{deny, {user, all}, publish, ["u/alice/x"]}.
{allow, {client, all}, subscribe, ["anyone"]}.
{allow, {ipaddr, "192.168.1.0/24"}, pubsub, ["lan/#"]}.
{allow, {ipaddr, "2001:db8::/32"}, pubsub, ["v6/#"]}.
{allow, {ipaddr, "2001:db8:1:2::5"}, pubsub, ["v6one"]}.
{allow, {ipaddrs, ["10.1.0.0/16", "172.16.0.9"]}, publish, ["many"]}.
{allow, {'and', [{user, "bob"}, {ipaddr, "10.9.0.0/16"}]}, publish, ["both"]}.
{allow, {'or', [{user, "bob"}, {client, "c-bob"}]}, publish, ["either"]}.
{allow, {'and', []}, publish, ["and-empty"]}.
{allow, {'or', []}, publish, ["or-empty"]}.
{allow, {'or', [{'and', [{user, "x"}, {client, "y"}]}, {ipaddr, "1.2.3.4"}]}, publish, ["nested"]}.
{deny, all, pubsub, [{eq, "lit/+"}]}.
{allow, all, subscribe, ["lit/+"]}.
`)
	alice := client("alice", "ca", "10.0.0.1")
	runChecks(t, rs, []check{
		{alice, pub, "u/alice/x", A}, // first match wins over the later deny
		{client("eve", "ce", "10.0.0.1"), pub, "u/alice/x", D},
		{alice, sub, "u/alice/x", I}, // publish rule only
		{client("", "c-9", ""), sub, "cid/a/b", A},
		{client("", "c-9", ""), pub, "cid/a", I},
		{client("", "c-8", ""), sub, "cid/a", I},
		{client("", "c-8", ""), sub, "anyone", A},
		{client("", "z", "192.168.1.77"), pub, "lan/x", A},
		{client("", "z", "192.168.1.77"), sub, "lan/#", A},
		{client("", "z", "192.168.2.77"), pub, "lan/x", I},
		{client("", "z", "2001:db8:ffff::1"), pub, "v6/x", A},
		{client("", "z", "2001:db9::1"), pub, "v6/x", I},
		{client("", "z", "2001:db8:1:2::5"), pub, "v6one", A},
		{client("", "z", "2001:db8:1:2::6"), pub, "v6one", I},
		{client("", "z", "10.1.200.3"), pub, "many", A},
		{client("", "z", "172.16.0.9"), pub, "many", A},
		{client("", "z", "172.16.0.10"), pub, "many", I},
		{client("", "z", ""), pub, "many", I}, // no peer address
		{client("bob", "z", "10.9.1.1"), pub, "both", A},
		{client("bob", "z", "10.8.1.1"), pub, "both", I},
		{client("bob", "z", ""), pub, "either", A},
		{client("", "c-bob", ""), pub, "either", A},
		{client("", "c-rob", ""), pub, "either", I},
		{alice, pub, "and-empty", A},
		{alice, pub, "or-empty", I},
		{client("x", "y", ""), pub, "nested", A},
		{client("x", "q", "1.2.3.4"), pub, "nested", A},
		{client("x", "q", "1.2.3.5"), pub, "nested", I},
		{alice, sub, "lit/+", D},
		{alice, sub, "lit/a", A},
		{alice, pub, "lit/a", I},
	})
}

func TestTopicMatching(t *testing.T) {
	rs := mustParse(t, `
{allow, all, pubsub, ["a/+/c", "b/#", "#/x", "", "e//f", {eq, "eq/#"}]}.
{allow, all, subscribe, ["+"]}.
{allow, all, pubsub, ["$SYS/+"]}.
{allow, all, pubsub, ["h/#"]}.
`)
	c := client("u", "c", "10.0.0.1")
	runChecks(t, rs, []check{
		{c, pub, "a/b/c", A},
		{c, pub, "a//c", A},
		{c, pub, "a/b/c/d", I},
		{c, pub, "a/c", I},
		{c, pub, "b", A}, // # matches the parent level too
		{c, pub, "b/", A},
		{c, pub, "b/x/y", A},
		{c, pub, "bb", I},
		{c, sub, "a/+/c", A}, // same filter
		{c, sub, "a/#", I},   // # is a plain level against a +: no
		{c, sub, "b/+/+", A}, // inside b/#
		{c, sub, "b/#", A},
		{c, sub, "#", A},   // the rule "+" takes "#" as one plain level
		{c, sub, "x/#", I}, // "+" is one level
		{c, pub, "#/x", A},
		{c, pub, "q/x", I}, // a # that is not last matches only "#"
		{c, pub, "", A},
		{c, pub, "e//f", A},
		{c, pub, "e/f", I},
		{c, sub, "eq/#", A},
		{c, sub, "eq/a", I},
		{c, pub, "eq/#", A},
		{c, pub, "$SYS/x", A}, // ACL wildcards match $ topics
		{c, sub, "h/#/z", I},  // a subscription's # against the rule's last #
		{c, sub, "h/#", A},
	})
}

func TestPlaceholders(t *testing.T) {
	rs := mustParse(t, `
{allow, all, pubsub, ["users/%u/#", "clients/%c"]}.
{allow, all, publish, ["open/#", "a/%u/b"]}.
{allow, all, publish, ["x/%u", "open2/#"]}.
{allow, all, subscribe, [{eq, "lit/%u"}, "p%u/q", "m/%u%c"]}.
{deny, all}.
`)
	runChecks(t, rs, []check{
		{client("alice", "c1", ""), pub, "users/alice/x", A},
		{client("alice", "c1", ""), sub, "users/alice/#", A},
		{client("alice", "c1", ""), sub, "users/+/#", D}, // + is a plain level
		{client("alice", "c1", ""), pub, "users/bob/x", D},
		{client("alice", "c1", ""), pub, "clients/c1", A},
		{client("alice", "c1", ""), pub, "clients/c2", D},
		{client("", "c1", ""), pub, "clients/c1", D}, // users/%u first: no user name ends the rule
		{client("", "c1", ""), pub, "open/x", A},
		{client("", "c1", ""), pub, "open2/x", D}, // x/%u comes first in its rule
		{client("alice", "c1", ""), pub, "open2/x", A},
		{client("", "c1", ""), pub, "users//x", D},
		{client("a/b", "c1", ""), pub, "users/a/b/x", D}, // a value is one level
		{client("+", "c1", ""), pub, "users/+/x", D},
		{client("#", "c1", ""), pub, "users/#", D},
		{client("alice", "c1", ""), sub, "lit/%u", A}, // {eq, ...} has no placeholders
		{client("alice", "c1", ""), sub, "lit/alice", D},
		{client("alice", "c1", ""), sub, "p%u/q", A}, // %u only as a whole level
		{client("alice", "c1", ""), sub, "m/%u%c", A},
	})
	// %cida and %cna (EMQX's client id and certificate common name aliases)
	// are set by nothing in EMQX 4.4's open-source broker: literal words.
	rs = mustParse(t, `{allow, all, publish, ["a/%cida", "b/%cna"]}.`)
	runChecks(t, rs, []check{
		{client("u", "c", ""), pub, "a/%cida", A},
		{client("u", "c", ""), pub, "b/%cna", A},
		{client("u", "c", ""), pub, "a/c", I},
	})
}

func TestFirstMatchWinsAndAccessLists(t *testing.T) {
	rs := mustParse(t, `
{deny, {user, "u"}, subscribe, ["t/#"]}.
{allow, all, pubsub, ["t/#"]}.
{deny, all, publish, ["t/x"]}.
{deny, all}.
`)
	u := client("u", "c", "")
	runChecks(t, rs, []check{
		{u, sub, "t/x", D},
		{u, pub, "t/x", A},
		{client("v", "c", ""), sub, "t/x", A},
		{u, pub, "other", D},
		{u, sub, "other", D},
	})
	if rs := mustParse(t, "% nothing\n"); rs.Len() != 0 || rs.Check(u, pub, "t") != I {
		t.Error("an empty file has rules")
	}
	var none *Rules
	if none.Check(u, pub, "t") != I {
		t.Error("nil rules do not ignore")
	}
}

func TestNamesAndEncodings(t *testing.T) {
	rs := mustParse(t, `
{allow, {user, <<"bin">>}, publish, [<<"b/#">>]}.
{allow, {user, "caf\x{e9}"}, publish, ["latin1"]}.
{allow, {user, <<"caf\x{e9}"/utf8>>}, publish, ["utf8"]}.
{allow, {user, [$i, "o", [<<"li">>, "st"]]}, publish, ["iolist"]}.
{allow, {user, "all"}, publish, ["named-all"]}.
{allow, {client, [99,49]}, publish, ["intlist"]}.
{allow, all, publish, <<"single/binary">>}.
{allow, {user, "tab\tq\"\\"}, publish, ["esc"]}.
{allow, all, publish, ["con" "cat"]}.
{allow, {'user', 'all'}, subscribe, [<<"x", 47, $y>>]}.
`)
	runChecks(t, rs, []check{
		{client("bin", "", ""), pub, "b/1", A},
		{client("caf\xe9", "", ""), pub, "latin1", A}, // Latin-1 byte E9
		{client("café", "", ""), pub, "latin1", I},    // UTF-8 C3 A9 is not it
		{client("café", "", ""), pub, "utf8", A},      // <<"..."/utf8>>
		{client("iolist", "", ""), pub, "iolist", A},  // list_to_binary of an iolist
		{client("all", "", ""), pub, "named-all", A},  // the string "all" is a name
		{client("bob", "", ""), pub, "named-all", I},  // not the atom all
		{client("", "c1", ""), pub, "intlist", A},     // a list of codes is a string
		{client("", "", ""), pub, "single/binary", A}, // a lone binary is one topic
		{client("tab\tq\"\\", "", ""), pub, "esc", A}, // escapes
		{client("", "", ""), pub, "concat", A},        // adjacent strings
		{client("anyone", "", ""), sub, "x/y", A},     // quoted atoms are atoms
		{client("caf\xe9", "", ""), pub, "utf8", I},
	})
}

func TestIPForms(t *testing.T) {
	for _, k := range []struct {
		cidr, ip string
		want     bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"127.0.0.1", "127.0.0.0", false},
		{"10.0.0.1/8", "10.200.3.4", true}, // host bits are cleared
		{"10.0.0.0/8", "11.0.0.0", false},
		{"0.0.0.0/0", "8.8.8.8", true},
		{"0.0.0.0/0", "::1", false}, // families never mix
		{"::/0", "8.8.8.8", false},
		{"::/0", "2001::1", true},
		{"192.168.1.10/31", "192.168.1.11", true},
		{"192.168.1.10/31", "192.168.1.12", false},
		{"127.1", "127.0.0.1", true}, // inet:parse_address's legacy forms
		{"10.258", "10.0.1.2", true},
		{"0x7f.1", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"10.0.0.0//8", "10.1.1.1", true},                 // string:tokens drops empty fields
		{"::ffff:10.0.0.1", "10.0.0.1", false},            // an IPv6 rule
		{"fe80::1%eth0", "fe80::1", true},                 // the scope is ignored
		{"2001:db8:aaaa::/48", "2001:db8:bbbb::1", false}, // a /48 (esockd's covers the /32; not copied)
		{"2001:db8:aaaa::/48", "2001:db8:aaaa:1::1", true},
		{"2001:db8:aaaa::/47", "2001:db8:aaab::1", true},
		{"2001:db8:aaaa::/47", "2001:db8:aaac::1", false},
		{"2001:db8:aaaa::/49", "2001:db8:aaaa:8000::1", false},
		{"2001:db8:aaaa::/49", "2001:db8:aaaa:7fff::1", true},
	} {
		rs := mustParse(t, `{allow, {ipaddr, "`+k.cidr+`"}, publish, ["t"]}.`)
		want := I
		if k.want {
			want = A
		}
		if got := rs.Check(client("", "", k.ip), pub, "t"); got != want {
			t.Errorf("ipaddr %q, peer %s: got %v, want %v", k.cidr, k.ip, got, want)
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	src, err := os.ReadFile(shippedFile(t))
	if err != nil {
		t.Fatal(err)
	}
	rs := mustParse(t, string(src)+`{allow, all, pubsub, ["users/%u/#"]}.`)
	rs2 := mustParse(t, `{deny, {'or', [{user, "x"}, {ipaddrs, ["10.0.0.0/8", "::1"]}]}, pubsub, ["a/+/#", "users/%u/%c/#"]}.`)
	c := client("u1", "c1", "192.168.0.1")
	n := testing.AllocsPerRun(100, func() {
		rs.Check(c, pub, "a/b/c/d/e/f/g")
		rs.Check(c, sub, "users/u1/x/#")
		rs2.Check(c, pub, "users/u1/c1/z")
		rs2.Check(c, sub, "a/b/c")
	})
	if n != 0 {
		t.Errorf("Check allocates %v times", n)
	}
}
