package mgmtapps

import (
	"regexp"
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	for id, want := range map[string]string{
		"admin": "", "a-b_c1": "", "9x": "", strings.Repeat("a", 256): "",
		"": "0 < Length =< 256", strings.Repeat("a", 257): "0 < Length =< 256",
		"-a": "required: ^[A-Za-z0-9]+[A-Za-z0-9-_]*$", "a b": "required: ^[A-Za-z0-9]+[A-Za-z0-9-_]*$",
	} {
		err := CheckID(id)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("%q: %q, want %q", id, got, want)
			}
		} else if want != "" {
			t.Errorf("%q accepted, want %q", id, want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || !regexp.MustCompile(`^[0-9A-Za-z]{30,43}$`).MatchString(a) {
		t.Fatalf("secrets %q %q", a, b)
	}
}
