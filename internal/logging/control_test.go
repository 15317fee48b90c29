package logging

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"

	"emqxgo/internal/config"
)

// TestControl: the levels of a running logger change at once: the primary
// level and the handler's both filter, a stopped handler writes nothing,
// and the errors are EMQX's terms.
func TestControl(t *testing.T) {
	dir := t.TempDir()
	l, err := New(config.Log{Level: "warning", Dir: dir, File: "emqx.log", RotationSize: 1 << 20, RotationCount: 2}, "file")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, ok := ControlOf(l.Named("x").With(zap.String("k", "v")))
	if !ok || c != l.Control {
		t.Fatal("ControlOf a derived logger: not the logger's Control")
	}
	if _, ok := ControlOf(zap.NewNop()); ok {
		t.Fatal("ControlOf a foreign logger: found one")
	}
	read := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "emqx.log"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(b)
	}
	want := []HandlerInfo{{ID: "file", Level: "warning", Dst: filepath.Join(dir, "emqx.log"), Status: "started"}}
	if got := c.Handlers(); !reflect.DeepEqual(got, want) {
		t.Fatalf("handlers %+v, want %+v", got, want)
	}

	l.Debug("debug-1")
	if err := c.SetLevel("debug"); err != nil {
		t.Fatal(err)
	}
	l.Debug("debug-2")
	if c.Primary() != "debug" || c.Handlers()[0].Level != "debug" {
		t.Fatalf("after set-level debug: primary %s, handlers %+v", c.Primary(), c.Handlers())
	}
	// The primary level filters before the handler's.
	if err := c.SetPrimary("error"); err != nil {
		t.Fatal(err)
	}
	l.Warn("warn-3")
	l.Error("error-3")
	if err := c.SetPrimary("debug"); err != nil {
		t.Fatal(err)
	}
	// And the handler's after the primary.
	if err := c.SetHandlerLevel("file", "notice"); err != nil {
		t.Fatal(err)
	}
	l.Debug("debug-4")
	l.Info("info-4")
	// A stopped handler writes nothing.
	if err := c.StopHandler("file"); err != nil {
		t.Fatal(err)
	}
	l.Error("error-5")
	if got := c.Handlers()[0].Status; got != "stopped" {
		t.Fatalf("status %s after stop", got)
	}
	if err := c.StartHandler("file"); err != nil {
		t.Fatal(err)
	}
	l.Error("error-6")
	s := read()
	for _, w := range []string{"debug-2", "error-3", "info-4", "error-6"} {
		if !strings.Contains(s, w) {
			t.Errorf("%s not written:\n%s", w, s)
		}
	}
	for _, w := range []string{"debug-1", "warn-3", "debug-4", "error-5"} {
		if strings.Contains(s, w) {
			t.Errorf("%s written:\n%s", w, s)
		}
	}

	for _, e := range []struct {
		err  error
		want string
	}{
		{c.SetLevel("loud"), "{invalid_level,loud}"},
		{c.SetPrimary("loud"), "{invalid_level,loud}"},
		{c.SetHandlerLevel("nosuch", "info"), "{not_found,nosuch}"},
		{c.SetHandlerLevel("file", "loud"), "{not_found,file}"},
		{c.StartHandler("nosuch"), "{not_found,nosuch}"},
		{c.StopHandler("nosuch"), "{not_started,nosuch}"},
	} {
		if e.err == nil || e.err.Error() != e.want {
			t.Errorf("error %v, want %s", e.err, e.want)
		}
	}
	if err := c.StopHandler("file"); err != nil {
		t.Fatal(err)
	}
	if err := c.StopHandler("file"); err == nil || err.Error() != "{not_started,file}" {
		t.Errorf("stopping a stopped handler: %v", err)
	}
	for _, lv := range []string{"all", "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", "none"} {
		if !ValidLevel(lv) || c.SetPrimary(lv) != nil || c.Primary() != lv {
			t.Errorf("level %s refused", lv)
		}
	}
}
