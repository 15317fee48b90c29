package logging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"emqxgo/internal/config"
)

func TestLevels(t *testing.T) {
	for _, n := range []string{"debug", "info", "notice", "warning", "error", "critical"} {
		if _, err := Level(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := Level("loud"); err == nil {
		t.Error("want error for unknown level")
	}
}

func TestFileLogAndFilter(t *testing.T) {
	dir := t.TempDir()
	l, err := New(config.Log{Level: "warning", Dir: filepath.Join(dir, "log"), File: "emqx.log", RotationSize: 1 << 20, RotationCount: 2}, "file")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden-info")
	l.Warn("shown-warning")
	Slog(l.Logger).Error("shown-from-slog", "k", "v")
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "log", "emqx.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "hidden-info") || !strings.Contains(s, "shown-warning") || !strings.Contains(s, "shown-from-slog") {
		t.Fatalf("log content:\n%s", s)
	}
}
