package acl

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: no input makes Parse panic or take long, and rules that
// parse can be checked.
func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile(shippedFile(f)); err == nil {
		f.Add(src)
	}
	if seeds, _ := filepath.Glob(filepath.Join("testdata", "*.conf")); seeds != nil {
		for _, s := range seeds {
			if src, err := os.ReadFile(s); err == nil {
				f.Add(src)
			}
		}
	}
	for _, s := range []string{
		`{allow, {'and', [{user, "a"}, {'or', [{client, "c"}, {ipaddrs, ["10.0.0.0/8", "::1"]}]}]}, pubsub, ["users/%u/#", {eq, "#"}, <<"x/+"/utf8>>]}.`,
		`{deny, all}.`,
		`{allow, {user, [$a, 16#62, "c" | <<"d">>]}, publish, ["a" "b"]}.`,
		`{allow, {ipaddr, "127.1/8"}, subscribe, [<<1, -2, "é">>]}.`,
		"%% coding: latin-1\n{allow, {user, \"\xe9\"}, publish, [\"t\"]}.",
		`{allow, all, publish, ["\x{41}\101\^A\n"]}.`,
		`{allow, all`,
		`{allow, all, pub, ["t"]}.`,
		`[[[[[[[[[[[[`,
		`{allow, {and, []}, publish, []}.`,
		`<<"a":8>>.`,
		`'unterminated`,
		`1.5e10. 37#1. 2#102. $`,
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	c := client("u", "c", "10.1.2.3")
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		rs, err := Parse("fuzz.conf", src)
		if err == nil {
			rs.Check(c, pub, "a/b/c")
			rs.Check(c, sub, "a/#")
			rs.Check(client("", "", ""), sub, "users/+/x")
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(src), d)
		}
	})
}
