package ratelog

import (
	"strconv"
	"testing"
	"time"
)

func TestFirstOncePerWindow(t *testing.T) {
	l := New(time.Hour)
	if !l.First("a") || l.First("a") || !l.First("b") {
		t.Fatal("each key must pass once within the window")
	}
	short := New(time.Nanosecond)
	if !short.First("a") {
		t.Fatal("first")
	}
	time.Sleep(time.Microsecond) // the window itself is what is measured
	if !short.First("a") {
		t.Fatal("a key whose window passed is let through again")
	}
}

func TestMemoryBounded(t *testing.T) {
	l := New(time.Hour)
	for i := 0; i < 3*maxKeys; i++ {
		l.First(strconv.Itoa(i))
		if len(l.seen) > maxKeys {
			t.Fatalf("%d keys remembered, bound %d", len(l.seen), maxKeys)
		}
	}
}
