package acl

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	for _, k := range []struct {
		src  string
		want string // the error, without the file name
	}{
		// rule shape
		{"{allow, all}.\n\n{allow, all, pub, [\"t\"]}.", `3:14: expected access publish|subscribe|pubsub, got pub`},
		{`{allow, all, "pub", ["t"]}.`, `1:14: expected access publish|subscribe|pubsub, got "pub"`},
		{`{permit, all}.`, `1:2: expected allow or deny, got permit`},
		{`{allow, everyone}.`, `1:9: a two-element rule is {allow, all}; got everyone as its second element`},
		{`{allow, all, publish}.`, `1:1: expected a rule {allow|deny, Who, Access, Topics} or {allow|deny, all}, got {allow,all,publish}`},
		{`allow.`, `1:1: expected a rule`},
		{`[allow, all].`, `1:1: expected a rule`},
		// who
		{`{allow, <<"bob">>, publish, ["t"]}.`, `1:9: expected who: all,`},
		{`{allow, {user, bob}, publish, ["t"]}.`, `1:16: expected a string or binary, got bob`},
		{`{allow, {user, 42}, publish, ["t"]}.`, `1:16: expected a string or binary, got 42`},
		{`{allow, {group, "g"}, publish, ["t"]}.`, `1:9: expected who: all,`},
		{`{allow, {user, "a", "b"}, publish, ["t"]}.`, `1:9: expected who`},
		{`{allow, {'and', {user, "a"}}, publish, ["t"]}.`, `1:17: {'and', ...} needs a list of who conditions, got {user,"a"}`},
		{`{allow, {'or', [{user, "a"} | x]}, publish, ["t"]}.`, `1:16: {'or', ...} needs a list of who conditions`},
		{`{allow, {'and', [{user, "a"}, nobody]}, publish, ["t"]}.`, `1:31: expected who: all,`},
		{`{allow, {'and', "ab"}, publish, ["t"]}.`, `1:17: {'and', ...} needs a list of who conditions, got "ab"`},
		{`{allow, {user, "用户"}, publish, ["t"]}.`, `1:16: "用户" has the character U+7528, which does not fit a byte`},
		{`{allow, {user, [1, 256]}, publish, ["t"]}.`, `1:20: list element 256 is not a byte (0..255)`},
		{`{allow, {user, [a]}, publish, ["t"]}.`, `1:17: expected a string or binary, got a`},
		// ip
		{`{allow, {ipaddr, "300.1.1.1"}, publish, ["t"]}.`, `1:18: invalid IP address or CIDR "300.1.1.1": not an IPv4 or IPv6 address`},
		{`{allow, {ipaddr, "10.0.0.0/33"}, publish, ["t"]}.`, `1:18: invalid IP address or CIDR "10.0.0.0/33": the prefix length is not in 0..32`},
		{`{allow, {ipaddr, "::/129"}, publish, ["t"]}.`, `the prefix length is not in 0..128`},
		{`{allow, {ipaddr, "10.0.0.0/x"}, publish, ["t"]}.`, `the prefix length is not an integer`},
		{`{allow, {ipaddr, "10.0.0.0/8/9"}, publish, ["t"]}.`, `expected Address or Address/PrefixLength`},
		{`{allow, {ipaddr, ""}, publish, ["t"]}.`, `expected Address or Address/PrefixLength`},
		{`{allow, {ipaddr, "10.0.0.0/-1"}, publish, ["t"]}.`, `the prefix length is not in 0..32`},
		{`{allow, {ipaddr, "1.2.3.4.5"}, publish, ["t"]}.`, `not an IPv4 or IPv6 address`},
		{`{allow, {ipaddr, "1.2.3.08"}, publish, ["t"]}.`, `not an IPv4 or IPv6 address`},
		{`{allow, {ipaddr, "host.example"}, publish, ["t"]}.`, `not an IPv4 or IPv6 address`},
		{`{allow, {ipaddr, <<"10.0.0.1">>}, publish, ["t"]}.`, `1:18: expected an IP address or CIDR string, got <<"10.0.0.1">>`},
		{`{allow, {ipaddrs, "10.0.0.1"}, publish, ["t"]}.`, `1:19: {ipaddrs, ...} needs a list of CIDR strings`},
		{`{allow, {ipaddrs, ["10.0.0.1", 7]}, publish, ["t"]}.`, `1:32: expected an IP address or CIDR string, got 7`},
		// topics
		{`{allow, all, publish, "t/1"}.`, `1:23: expected a list of topic filters, got "t/1"`},
		{`{allow, all, publish, t}.`, `1:23: expected a list of topic filters, got t`},
		{`{allow, all, publish, ["a", b]}.`, `1:29: expected a topic filter (a string, a binary or {eq, Topic}), got b`},
		{`{allow, all, publish, [{eq, t}]}.`, `1:29: {eq, Topic} needs a string or binary, got t`},
		{`{allow, all, publish, [{ne, "t"}]}.`, `1:24: expected a topic filter`},
		{`{allow, all, publish, ["a" | "b"]}.`, `expected a topic filter`},
		{`{allow, all, publish, ["a" | <<"b">>]}.`, `expected a list of topic filters`},
		// syntax
		{`{allow, all}`, `1:13: unexpected end of file: the last term is not ended by '.'`},
		{`{allow, all}.{deny, all}.`, `1:13: a term's closing '.' must be followed by white space`},
		{"{allow, all}\n{deny, all}.", `2:1: expected '.' after the term, got '{'`},
		{`{allow, all`, `1:12: expected ',' or '}' in a tuple, got end of file`},
		{`{allow, all]`, `1:12: expected ',' or '}' in a tuple, got ']'`},
		{`{allow, all, publish, ["t"}.`, `1:27: expected ',' or ']' in a list, got '}'`},
		{`{allow, all, publish, ["t" | ["u"] "v"]}.`, `expected ']' after a list tail`},
		{`{allow, all, publish, ["t]}.`, `1:24: unterminated string`},
		{`{'allow, all}.`, `1:2: unterminated quoted atom`},
		{`{allow, all,}.`, `1:13: expected a term, got '}'`},
		{`{allow, all, publish, [T]}.`, `1:24: expected a term, got variable T`},
		{`{allow, {and, []}, publish, ["t"]}.`, `1:10: and is a reserved word: write the atom as 'and'`},
		{`{allow, {'or', []}, publish, ["t"]} .` + "\n" + `{allow, {or, []}, publish, ["t"]}.`, `2:10: or is a reserved word`},
		{`#{a => 1}.`, `1:1: maps and records are not allowed`},
		{`{allow, <<"a":8>>, publish, []}.`, `1:14: binary segment sizes are not supported`},
		{`{allow, <<"a"/binary>>, publish, []}.`, `1:15: binary segment type binary is not supported`},
		{`{allow, <<a>>, publish, []}.`, `1:11: expected a string or integer in a binary, got a`},
		{`{allow, <<16#110000/utf8>>, publish, []}.`, `1:11: 1114112 is not a Unicode code point for /utf8`},
		{`{allow, all, publish, ["\x{110000}"]}.`, `beyond U+10FFFF`},
		{`{allow, all, publish, ["\x{D800}"]}.`, `UTF-16 surrogate`},
		{`{allow, all, publish, ["\xZZ"]}.`, `\x needs two hex digits`},
		{`{allow, all, publish, ["\x{}"]}.`, `empty \x{} escape`},
		{`{allow, all, publish, ["\x{12"]}.`, `1:25: bad character '"' in a \x{...} escape`},
		{`{allow, all, publish, ["\x{12`, `unterminated \x{...} escape`},
		{`{allow, 1.5, publish, []}.`, `1:9: expected who: all, {user, Name}, {client, ClientId}, {ipaddr, CIDR}, {ipaddrs, [CIDR, ...]}, {'and', [Who, ...]} or {'or', [Who, ...]}, got 1.5`},
		{`{allow, 37#1, publish, []}.`, `1:9: bad number base 37`},
		{`{allow, - x, publish, []}.`, `1:11: expected a number after the sign, got x`},
		{`{allow, all, publish, [(x]}.`, `1:26: expected ')', got ']'`},
		{`{allow, all, publish, ["t"]}. $`, `1:31: unexpected end of file after $`},
		{"\n\n   {allow, all, publish, [\"t\"]}.\n{deny, all, subscribe, [\"a\", 'b']}.", `4:30: expected a topic filter`},
		{"{allow, all}.\n\xff", `2:1: invalid UTF-8`},
		{"{allow, all}. {allow, {user, \"" + strings.Repeat("x", 100) + "\"} , publish, x}.", `got x`},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100) + ".", `1:65: terms nested deeper than 64`},
		{strings.Repeat("{", 100000), `terms nested deeper than 64`},
		{"'" + strings.Repeat("a", 256) + "'.", `atom is longer than 255 characters`},
	} {
		_, err := Parse("etc/acl.conf", []byte(k.src))
		if err == nil {
			t.Errorf("%q: no error, want %s", k.src, k.want)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %T %v is not an *Error", k.src, err, err)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "etc/acl.conf:") || !strings.Contains(msg, k.want) {
			t.Errorf("%q:\n got %s\nwant etc/acl.conf:...%s", k.src, msg, k.want)
		}
	}
}

func TestErrorMessageForm(t *testing.T) {
	_, err := Parse("etc/acl.conf", []byte("{allow, all}.\n\n\n\n\n\n{allow, all, pub, [\"t\"]}.\n"))
	if err == nil || err.Error() != `etc/acl.conf:7:14: expected access publish|subscribe|pubsub, got pub` {
		t.Fatalf("got %v", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Line != 7 || pe.Col != 14 || pe.File != "etc/acl.conf" {
		t.Fatalf("got %#v", pe)
	}
	// A long offending term is cut short.
	_, err = Parse("f", []byte(`{allow, all, publish, [{`+strings.Repeat("a,", 100)+`a}]}.`))
	if err == nil || !strings.HasSuffix(err.Error(), "...") || len(err.Error()) > 200 {
		t.Fatalf("got %v", err)
	}
}

func TestSyntaxAccepted(t *testing.T) {
	for _, src := range []string{
		"",
		"% only a comment",
		"{allow, all}.",
		"{allow, all}.%comment right after the dot",
		"{allow, all}.\n",
		"\xEF\xBB\xBF{allow, all}.",
		"( {allow, all} ).",
		"{allow,all}.\t{deny,all}.",
		`{'allow', 'all'}.`,
		`{allow, all, publish, []}.`,
		`{allow, all, publish, ""}.`,
		`{allow, all, publish, [<<>>, ""]}.`,
		`{allow, all, publish, ["a" | ["b"]]}.`,
		`{allow, all, publish, ["a" | []]}.`,
		`{allow, all, publish, ["a" | ""]}.`,
		`{allow, {user, ["a" | <<"b">>]}, publish, ["t"]}.`,
		`{allow, {user, [$a, $\n, $\s, $\^A, $\101, $\x41, $\x{41}]}, publish, ["t"]}.`,
		`{allow, {user, [16#41, 2#1000001, 6_5, +65]}, publish, ["t"]}.`,
		`{allow, {user, <<-1, 256, "ü", "é"/utf8, 233/utf8, $a/utf8>>}, publish, ["t"]}.`,
		`{allow, {user, <<"a" "b">>}, publish, ["t"]}.`,
		`{allow, {ipaddrs, []}, publish, ["t"]}.`,
		`{allow, {ipaddr, [49,46,50,46,51,46,52]}, publish, ["t"]}.`,
		`{allow, {ipaddr, "10.0.0.0/+8"}, publish, ["t"]}.`,
		`{allow, {ipaddr, "::ffff:1.2.3.4/120"}, publish, ["t"]}.`,
		"%% coding: latin-1\n{allow, {user, \"caf\xe9\"}, publish, [\"t\"]}.",
		"{allow, {user, \"multi\nline\"}, publish, [\"t\"]}.",
	} {
		if _, err := Parse("acl.conf", []byte(src)); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestLatin1CodingComment(t *testing.T) {
	rs := mustParse(t, "%% -*- coding: latin-1 -*-\n{allow, {user, \"caf\xe9\"}, publish, [\"t\"]}.")
	if rs.Check(client("caf\xe9", "", ""), pub, "t") != A {
		t.Error("a Latin-1 file's \xe9 is not the byte E9")
	}
	rs = mustParse(t, `{allow, {user, <<-1, 256, "ü">>}, publish, ["t"]}.`)
	if rs.Check(client("\xff\x00\xfc", "", ""), pub, "t") != A {
		t.Error("binary segments do not keep their low 8 bits")
	}
}

func TestParseBounded(t *testing.T) {
	// Big but well-formed input parses in time linear in its size.
	var b strings.Builder
	for i := range 5000 {
		b.WriteString(`{allow, {'or', [{user, "u`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(`"}, {ipaddr, "10.0.0.0/8"}]}, pubsub, ["a/+/#", {eq, "b"}]}.` + "\n")
	}
	start := time.Now()
	rs, err := Parse("big", []byte(b.String()))
	if err != nil || rs.Len() != 5000 {
		t.Fatalf("%v, %d rules", err, rs.Len())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	// A single enormous term is refused rather than held.
	defer func(n int) { termNodeLimit = n }(termNodeLimit)
	termNodeLimit = 1000
	big := "[" + strings.Repeat("[],", 1000) + "[]]."
	if _, err := Parse("big", []byte(big)); err == nil || !strings.Contains(err.Error(), "term too large") {
		t.Errorf("got %v", err)
	}
	if _, err := Parse("huge", make([]byte, MaxFileSize+1)); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("got %v", err)
	}
}
