package admins

import (
	"crypto/md5"
	"strings"
	"testing"
)

// TestCheckPassword: EMQX's rules (emqx_dashboard_admin's password_test).
func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		pw   string
		want error
	}{
		{"123", ErrPasswordLength},
		{strings.Repeat("x", 63) + "1", nil},
		{strings.Repeat("y", 65), ErrPasswordLength},
		{"12345678", ErrPasswordWeak},
		{letters, ErrPasswordWeak},
		{digits, ErrPasswordWeak},
		{specials, ErrPasswordWeak},
		{"映映映映无天在请", ErrPasswordWeak},
		{"test_for_non_ascii1中", ErrPasswordASCII},
		{"abcdefghijklmnopqrstuvwxyz" + digits, nil},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ" + specials, nil},
		{specials + digits, nil},
		{"abckldiekflkdf12", nil},
		{"abckldiekflkdf w", nil},
		{"# 12344858", nil},
	} {
		if got := CheckPassword(c.pw); got != c.want {
			t.Errorf("%q: %v, want %v", c.pw, got, c.want)
		}
	}
}

// TestHash: EMQX's form, <<Salt:4/binary, MD5(Salt ++ Password)/binary>>,
// a new salt each time.
func TestHash(t *testing.T) {
	h := Hash("public")
	sum := md5.Sum(append(append([]byte{}, h[:4]...), "public"...))
	if len(h) != 20 || string(h[4:]) != string(sum[:]) {
		t.Fatalf("hash %x", h)
	}
	if !matches(h, "public") || matches(h, "Public") || matches(h[:19], "public") {
		t.Fatal("matches")
	}
	if a, b := Hash("public"), Hash("public"); string(a) == string(b) {
		t.Fatal("the same salt twice")
	}
	if ErrNotFound.Term() != `<<"Username Not Found">>` {
		t.Fatal(ErrNotFound.Term())
	}
}
