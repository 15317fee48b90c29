package nodename

import (
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	for _, s := range []string{
		"emqx@127.0.0.1", "emqx@s1.emqx.io", "emqx1@localhost", "EMQX_a-1@host-1.example.tld",
		"emqx@::1", "emqx@[::1]", "emqx@fe80::1", "e@192.168.0.10", "emqx@myhost.example.tld.",
	} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q) = %v, want ok", s, err)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, s := range []string{
		"", "emqx", "@127.0.0.1", "emqx@", "em qx@h", "emqx@@h", "emqx@h@i", "emqx.1@h", "emqx@-bad.host",
		"emqx@bad_host", "emqx@127.0.0.256", "emqx@[127.0.0.1]", "emqx@host..io", "émqx@h",
		"emqx@" + strings.Repeat("a", 64) + ".io",
		strings.Repeat("n", 200) + "@" + strings.Repeat("a.", 28) + "io",
	} {
		_, err := Parse(s)
		if err == nil {
			t.Errorf("Parse(%q) ok, want error", s)
			continue
		}
		if !strings.Contains(err.Error(), "expected name@host") {
			t.Errorf("Parse(%q) error %q does not show the expected form", s, err)
		}
		if !strings.Contains(err.Error(), "\""+s+"\"") {
			t.Errorf("Parse(%q) error %q does not show the bad value", s, err)
		}
	}
}

func TestPorts(t *testing.T) {
	cases := []struct {
		name         string
		n, gos, rpcp int
	}{
		{"emqx@127.0.0.1", 0, 4370, 5370},
		{"emqx1@127.0.0.1", 1, 4371, 5371},
		{"emqx2@127.0.0.1", 2, 4372, 5372},
		{"emqx-12@h", 12, 4382, 5382},
		{"node007@h", 7, 4377, 5377},
		{"a1b@h", 0, 4370, 5370},
		{"emqx60001@h", 1, 4371, 5371},
		{"emqx123456789012345678901234567890@h", 123456789012345678901234567890 % 60000, 0, 0},
	}
	for _, c := range cases {
		n, err := Parse(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if n.Suffix() != c.n {
			t.Errorf("%s: suffix %d, want %d", c.name, n.Suffix(), c.n)
		}
		if c.gos != 0 && (n.GossipPort() != c.gos || n.RPCPort() != c.rpcp) {
			t.Errorf("%s: ports %d/%d, want %d/%d", c.name, n.GossipPort(), n.RPCPort(), c.gos, c.rpcp)
		}
	}
}

func TestQualify(t *testing.T) {
	self, _ := Parse("emqx1@10.0.0.1")
	if got := Qualify("emqx2", self); got != "emqx2@10.0.0.1" {
		t.Errorf("got %s", got)
	}
	if got := Qualify("emqx2@h", self); got != "emqx2@h" {
		t.Errorf("got %s", got)
	}
}

func TestCheckNamePart(t *testing.T) {
	for _, s := range []string{"emqx", "my_app-1", "EMQX"} {
		if err := CheckNamePart(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "my.app", "a@b", "em qx"} {
		if err := CheckNamePart(s); err == nil || err.Error() != "must match ^[0-9A-Za-z_-]+$ (the name part of a node name)" {
			t.Errorf("%q: %v", s, err)
		}
	}
}
