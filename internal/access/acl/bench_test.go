package acl

import (
	"os"
	"testing"
)

// BenchmarkCheck: EMQX's default file, a publish to a deep topic (the
// publish path's common case).
func BenchmarkCheck(b *testing.B) {
	src, err := os.ReadFile(shippedFile(b))
	if err != nil {
		b.Fatal(err)
	}
	rs := mustParse(b, string(src))
	c := client("user-1", "client-1", "10.20.30.40")
	const topic = "site/building-7/floor-3/room-12/rack-4/device-99/sensors/temperature/celsius"
	b.ReportAllocs()
	for b.Loop() {
		if rs.Check(c, pub, topic) != A {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkCheckSubscribe: the default file's subscribe rules, all of
// which are tried for a remote client's filter.
func BenchmarkCheckSubscribe(b *testing.B) {
	src, err := os.ReadFile(shippedFile(b))
	if err != nil {
		b.Fatal(err)
	}
	rs := mustParse(b, string(src))
	c := client("user-1", "client-1", "10.20.30.40")
	b.ReportAllocs()
	for b.Loop() {
		if rs.Check(c, sub, "site/building-7/+/room-12/#") != A {
			b.Fatal("not allowed")
		}
	}
}

// BenchmarkCheckPlaceholders: a file of per-user rules, matched last.
func BenchmarkCheckPlaceholders(b *testing.B) {
	rs := mustParse(b, `
{deny, {ipaddr, "192.168.0.0/16"}, pubsub, ["#"]}.
{allow, {user, "admin"}, pubsub, ["#"]}.
{deny, all, publish, ["$SYS/#", "ctl/+/cmd"]}.
{allow, all, pubsub, ["users/%u/#", "clients/%c/+/state"]}.
{deny, all}.
`)
	c := client("user-1", "client-1", "10.20.30.40")
	b.ReportAllocs()
	for b.Loop() {
		if rs.Check(c, pub, "clients/client-1/lamp/state") != A {
			b.Fatal("not allowed")
		}
	}
}
