package logging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/config"
	"emqxgo/internal/testutil"
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

func TestRotationBySize(t *testing.T) {
	dir := t.TempDir()
	l, err := New(config.Log{Level: "info", Dir: dir, File: "emqx.log", RotationSize: 1 << 20, RotationCount: 2}, "file")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1000)
	for i := 0; i < 4*1100; i++ { // about 4.4 MB: four rotations, two backups kept
		l.Info(line)
	}
	l.Close()
	count := func() (int, []os.DirEntry) {
		entries, _ := os.ReadDir(dir)
		n := 0
		for _, e := range entries {
			if e.Name() != "emqx.log" && strings.HasPrefix(e.Name(), "emqx-") {
				n++
			}
		}
		return n, entries
	}
	// lumberjack removes old backups in the background after a rotation.
	var backups int
	var entries []os.DirEntry
	testutil.Eventually(t, 5*time.Second, "old backups removed", func() bool {
		backups, entries = count()
		return backups <= 2
	})
	if backups != 2 {
		t.Fatalf("%d backups in %v, want 2 (log.rotation.count)", backups, entries)
	}
	st, err := os.Stat(filepath.Join(dir, "emqx.log"))
	if err != nil || st.Size() > 1<<20 {
		t.Fatalf("current log %v bytes over the rotation size (%v)", st.Size(), err)
	}
}
