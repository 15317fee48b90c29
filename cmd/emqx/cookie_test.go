package main

import (
	"strings"
	"testing"

	"emqxgo/internal/config"
)

// TestCookieWarning: the default cookie and a cookie under 16 characters
// are warned about at boot, a long one is not.
func TestCookieWarning(t *testing.T) {
	for _, tc := range []struct {
		cookie string
		isDflt bool
		want   string
	}{
		{config.DefaultCookie, true, "Default (insecure) Erlang cookie"},
		{"short-cookie", false, "node.cookie is shorter than 16 characters"},
		{"fifteen-chars-x", false, "node.cookie is shorter than 16 characters"},
		{"sixteen-chars-xy", false, ""},
	} {
		cfg := &config.Config{EtcDir: "/etc/emqx"}
		cfg.Node.Cookie, cfg.Node.CookieIsDefault = tc.cookie, tc.isDflt
		var b strings.Builder
		cookieWarning(&b, cfg)
		if tc.want == "" && b.Len() != 0 || !strings.Contains(b.String(), tc.want) {
			t.Errorf("cookie %q: warning %q, want %q", tc.cookie, b.String(), tc.want)
		}
		if tc.want != "" && !strings.Contains(b.String(), "WARNING") {
			t.Errorf("cookie %q: %q is no warning", tc.cookie, b.String())
		}
	}
}
