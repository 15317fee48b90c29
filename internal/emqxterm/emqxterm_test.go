package emqxterm

import (
	"errors"
	"fmt"
	"testing"
)

func TestAtom(t *testing.T) {
	for in, want := range map[string]string{
		"emqx@localhost":  "emqx@localhost",
		"emqx@127.0.0.1":  "'emqx@127.0.0.1'",
		"emqx@s1.emqx.io": "'emqx@s1.emqx.io'",
		"Emqx@host":       "'Emqx@host'",
		"emqx-1@host":     "'emqx-1@host'",
		"emqx_1@host":     "emqx_1@host",
		"it's":            `'it\'s'`,
		"":                "''",
	} {
		if got := Atom(in); got != want {
			t.Errorf("Atom(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestError(t *testing.T) {
	if got := Reason("node_down", "emqx2@127.0.0.1"); got != "{node_down,'emqx2@127.0.0.1'}" {
		t.Errorf("reason %s", got)
	}
	cause := errors.New("connection refused")
	err := fmt.Errorf("join: %w", &Error{Reason: ReasonNodeDown, Node: "emqx2@127.0.0.1", Err: cause})
	if got, want := err.Error(), "join: {node_down,'emqx2@127.0.0.1'}"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if ReasonOf(err) != ReasonNodeDown || !errors.Is(err, cause) {
		t.Errorf("reason %q, cause kept %v", ReasonOf(err), errors.Is(err, cause))
	}
	if got := (&Error{Reason: ReasonNotInCluster}).Error(); got != "node_not_in_cluster" {
		t.Errorf("bare reason rendered as %s", got)
	}
	if ReasonOf(cause) != "" {
		t.Error("a plain error has a reason")
	}
}
