package release

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestNewHome(t *testing.T) {
	root := filepath.Join("..", "..")
	home, err := NewHome(root, "release-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	for _, f := range Files {
		want, err := os.ReadFile(filepath.Join(root, "etc", f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(home, "etc", f))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s not copied: %v", f, err)
		}
	}
	if _, err := NewHome(t.TempDir(), "release-test"); err == nil {
		t.Fatal("a root without etc/ made a home")
	}
}
