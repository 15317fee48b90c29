package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"0": 0, "5s": 5 * time.Second, "1m": time.Minute, "24h": 24 * time.Hour,
		"1h30m": 90 * time.Minute, "500ms": 500 * time.Millisecond, "1d": 24 * time.Hour,
		"1w": 7 * 24 * time.Hour, "1M": time.Minute, "2h5m10s": 2*time.Hour + 5*time.Minute + 10*time.Second,
		"1s500ms": 1500 * time.Millisecond,
	}
	for in, want := range good {
		if got, err := parseDuration(in, false); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "s", "1.5h", "-1s", "5 s", "5x", "1h-", "off", "9999999999999w", "1mo"} {
		if _, err := parseDuration(in, false); err == nil {
			t.Errorf("parseDuration(%q) ok, want error", in)
		}
	}
	if d, err := parseDuration("OFF", true); err != nil || d != 0 {
		t.Errorf("off: %v %v", d, err)
	}
	for d, want := range map[time.Duration]string{
		0: "0", 15 * time.Second: "15s", time.Minute: "1m", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m",
		500 * time.Millisecond: "500ms", 1500 * time.Millisecond: "1s500ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"1024": 1024, "1MB": mb, "64KB": 64 * kb, "10MB": 10 * mb, "1GB": gb, "1mb": mb, "64kb": 64 * kb,
		"100B": 100, "0": 0, "2 MB": 2 * mb,
	}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "1.5MB", "-1", "+1", "1TB", "1M", "abc", "99999999999999GB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) ok, want error", in)
		}
	}
	for n, want := range map[int64]string{mb: "1MB", 64 * kb: "64KB", gb: "1GB", 1000: "1000", 0: "0"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseListener(t *testing.T) {
	good := map[string]string{
		"1883": "0.0.0.0:1883", "127.0.0.1:1883": "127.0.0.1:1883", "[::1]:1883": "[::1]:1883",
		"0.0.0.0:8883": "0.0.0.0:8883", ":1884": "0.0.0.0:1884", "off": "", "OFF": "", "false": "",
		"65535": "0.0.0.0:65535", "1": "0.0.0.0:1", "0": "0.0.0.0:0", "127.0.0.1:0": "127.0.0.1:0",
	}
	for in, want := range good {
		if got, err := parseListener(in); err != nil || got != want {
			t.Errorf("parseListener(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "00", "65536", "on", "true", "localhost:1883", "1.2.3.4", "1.2.3.4:", "::1:1883",
		"1.2.3.4:http", "1.2.3.256:1883", "-1", "1883x"} {
		if got, err := parseListener(in); err == nil {
			t.Errorf("parseListener(%q) = %q, want error", in, got)
		}
	}
}

func TestParseList(t *testing.T) {
	got := parseList(" a, b  c,,\td ,")
	want := []string{"a", "b", "c", "d"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q", got)
		}
	}
	if parseList(" , ") != nil && len(parseList(" , ")) != 0 {
		t.Errorf("empty list not empty")
	}
}
