package config

import (
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	cases := []struct {
		line, key, value, msg string
	}{
		{"", "", "", ""},
		{"   \t ", "", "", ""},
		{"# comment", "", "", ""},
		{"  ## indented comment = x", "", "", ""},
		{"node.name = emqx@h", "node.name", "emqx@h", ""},
		{"node.name=emqx@h", "node.name", "emqx@h", ""},
		{"\tnode.name   =   emqx@h  \r", "node.name", "emqx@h", ""},
		{"node.cookie = a=b", "node.cookie", "a=b", ""},
		{"node.cookie = abc # trailing comment", "node.cookie", "abc", ""},
		{"node.cookie = abc\t# trailing comment", "node.cookie", "abc", ""},
		{"node.cookie = abc#def", "node.cookie", "abc#def", ""},
		{`node.cookie = "abc # not a comment"`, "node.cookie", "abc # not a comment", ""},
		{`node.cookie = 'abc # x' # comment`, "node.cookie", "abc # x", ""},
		{`node.cookie = "it's"`, "node.cookie", "it's", ""},
		{`node.cookie = ""`, "node.cookie", "", ""},
		{`log.to = both`, "log.to", "both", ""},
		{"node.name =", "node.name", "", "missing value"},
		{"node.name =   ", "node.name", "", "missing value"},
		{"node.name = # only a comment", "node.name", "", "missing value"},
		{"node.name emqx@h", "", "node.name emqx@h", "expected key = value"},
		{"= value", "", "= value", "missing key"},
		{"node name = x", "", "node name = x", "key must not contain spaces"},
		{`node.cookie = "abc`, "node.cookie", `"abc`, "unterminated"},
		{`node.cookie = "abc" def`, "node.cookie", `"abc" def`, "unexpected text"},
	}
	for _, c := range cases {
		e, msg := parseLine(c.line)
		if e.key != c.key || e.value != c.value || (c.msg == "") != (msg == "") || !strings.Contains(msg, c.msg) {
			t.Errorf("parseLine(%q) = %q, %q, %q; want %q, %q, %q", c.line, e.key, e.value, msg, c.key, c.value, c.msg)
		}
	}
}

func TestParseLineNumbersAndBOM(t *testing.T) {
	text := "\uFEFFnode.name = a@b\r\n\r\n# c\r\nbroken line\r\nlog.level = info\r\n"
	entries, errs := parse("f.conf", []byte(text))
	if len(entries) != 2 || entries[0].key != "node.name" || entries[0].line != 1 ||
		entries[1].key != "log.level" || entries[1].line != 5 || entries[1].value != "info" {
		t.Errorf("entries = %+v", entries)
	}
	if len(errs) != 1 || errs[0].Line != 4 || errs[0].Source != "f.conf" {
		t.Errorf("errs = %+v", errs)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{"/abs/etc/emqx.conf", 12, "cluster.static.seed", "a@b", "unknown key; did you mean cluster.static.seeds?"},
			`/abs/etc/emqx.conf:12: cluster.static.seed = "a@b": unknown key; did you mean cluster.static.seeds?`},
		{Error{"env EMQX_LOG__LEVEL", 0, "log.level", "loud", "must be one of debug, info"},
			`env EMQX_LOG__LEVEL: log.level = "loud": must be one of debug, info`},
		{Error{"/e/emqx.conf", 3, "node.name", "", "missing value"}, `/e/emqx.conf:3: node.name: missing value`},
		{Error{"/e/emqx.conf", 4, "", "foo bar", "expected key = value"}, `/e/emqx.conf:4: "foo bar": expected key = value`},
		{Error{"/e/cluster.conf", 0, "", "", "cannot read config file: no such file or directory"},
			`/e/cluster.conf: cannot read config file: no such file or directory`},
		{Error{"", 0, "", "", "release home is not set"}, `release home is not set`},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
	es := &Errors{List: []Error{cases[0].e, cases[1].e}}
	if es.Error() != cases[0].want+"\n"+cases[1].want {
		t.Errorf("Errors.Error() = %q", es.Error())
	}
}

func TestSuggest(t *testing.T) {
	cases := map[string]string{
		"cluster.static.seed":                  "cluster.static.seeds",
		"cluster.discvery":                     "cluster.discovery",
		"log.levle":                            "log.level",
		"Node.Name":                            "node.name",
		"listenr.tcp.external":                 "listener.tcp.external",
		"listener.tcp.external.acceptor":       "listener.tcp.external.acceptors",
		"zone.external.max_inflite":            "zone.external.max_inflight",
		"foo":                                  "",
		"zzzzzzzzzzzzzzzzzzzzzzzz":             "",
		"listener.tcp.external.acceptorz.more": "",
	}
	for in, want := range cases {
		if got := suggest(in); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
