package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Value parsers. Each returns the parsed value or an error whose text says
// what is allowed; the caller adds file, line, key and value.

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, errors.New("must be on, off, true or false")
}

func formatBool(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		if lo == math.MinInt && hi == math.MaxInt {
			return 0, errors.New("must be an integer")
		}
		if hi == math.MaxInt {
			return 0, fmt.Errorf("must be an integer of at least %d", lo)
		}
		return 0, fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func parseEnum(s string, allowed []string) (string, error) {
	ls := strings.ToLower(s)
	for _, a := range allowed {
		if ls == a {
			return a, nil
		}
	}
	return "", errors.New("must be one of " + strings.Join(allowed, ", "))
}

var durationUnits = []struct {
	name string
	d    time.Duration
}{ // longest names first so "ms" is not read as "m"
	{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute},
	{"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour},
}

const durationForm = "a duration such as 500ms, 15s, 1m, 1h30m, 24h, 1d or 1w"

// parseDuration reads one or more <integer><unit> terms (ms, s, m, h, d, w),
// or "0". With off, the word off also means 0.
func parseDuration(s string, off bool) (time.Duration, error) {
	ls := strings.ToLower(s)
	if ls == "0" || (off && ls == "off") {
		return 0, nil
	}
	bad := func() (time.Duration, error) {
		if off {
			return 0, errors.New("must be " + durationForm + ", or 0 or off to disable")
		}
		return 0, errors.New("must be " + durationForm)
	}
	if ls == "" {
		return bad()
	}
	var total time.Duration
	for ls != "" {
		i := 0
		for i < len(ls) && ls[i] >= '0' && ls[i] <= '9' {
			i++
		}
		if i == 0 {
			return bad()
		}
		n, err := strconv.ParseInt(ls[:i], 10, 64)
		if err != nil {
			return bad()
		}
		ls = ls[i:]
		var unit time.Duration
		for _, u := range durationUnits {
			if strings.HasPrefix(ls, u.name) {
				unit, ls = u.d, ls[len(u.name):]
				break
			}
		}
		if unit == 0 || n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return bad()
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

// formatDuration writes d with h, m, s and ms terms ("24h", "1h30m", "500ms").
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if d > 0 || b.Len() == 0 { // sub-millisecond remainder cannot come from parseDuration
		return b.String() + d.String()
	}
	return b.String()
}

const (
	kb = 1 << 10
	mb = 1 << 20
	gb = 1 << 30
)

var sizeUnits = []struct {
	name string
	n    int64
}{{"gb", gb}, {"mb", mb}, {"kb", kb}, {"b", 1}}

const sizeForm = "a byte size such as 1024, 64KB, 1MB or 1GB"

// parseSize reads a byte count: plain digits (bytes) or digits with B, KB,
// MB or GB (case-insensitive, KB = 1024).
func parseSize(s string) (int64, error) {
	ls := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(ls, u.name) {
			ls, mult = strings.TrimSpace(strings.TrimSuffix(ls, u.name)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(ls, 10, 64)
	if err != nil || n < 0 || ls[0] == '+' || n > math.MaxInt64/mult {
		return 0, errors.New("must be " + sizeForm)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n != 0 && n%gb == 0:
		return strconv.FormatInt(n/gb, 10) + "GB"
	case n != 0 && n%mb == 0:
		return strconv.FormatInt(n/mb, 10) + "MB"
	case n != 0 && n%kb == 0:
		return strconv.FormatInt(n/kb, 10) + "KB"
	}
	return strconv.FormatInt(n, 10)
}

// parseList splits on commas and whitespace, dropping empty items.
func parseList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t'
	})
}

const listenerForm = "a port (1883), ip:port (127.0.0.1:1883), [ipv6]:port ([::1]:1883), or off"

// parseListener returns host:port ("0.0.0.0" for a bare port) or "" for off/false.
func parseListener(s string) (string, error) {
	switch strings.ToLower(s) {
	case "off", "false":
		return "", nil
	}
	bad := errors.New("must be " + listenerForm)
	host, port := "0.0.0.0", s
	if !isDigits(s) {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", bad
		}
		if h != "" {
			ip := net.ParseIP(h)
			if ip == nil || strings.Contains(h, "%") {
				return "", fmt.Errorf("host %q is not an IP address; must be %s", h, listenerForm)
			}
			host = ip.String()
		}
		port = p
	}
	if port == "0" { // any free port: tests and one-off runs read the bound port from the node
		return net.JoinHostPort(host, "0"), nil
	}
	n, err := parsePort(port)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || !isDigits(s) || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q must be an integer from 1 to 65535", s)
	}
	return n, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var clusterRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// resolvePath makes p absolute against home and cleans it.
func resolvePath(home, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(home, p)
	}
	return filepath.Clean(p)
}
