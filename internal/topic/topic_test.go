package topic

import "testing"

func TestSplitShared(t *testing.T) {
	for _, c := range []struct{ in, pre, filter string }{
		{"a/b", "", "a/b"}, {"$share/g/a/+", "$share/g/", "a/+"}, {"$share/g/", "$share/g/", ""},
		{"$share/g", "", "$share/g"}, {"$queue/a/#", "$queue/", "a/#"}, {"$SYS/x", "", "$SYS/x"},
	} {
		if pre, f := SplitShared(c.in); pre != c.pre || f != c.filter {
			t.Errorf("SplitShared(%q) = %q, %q; want %q, %q", c.in, pre, f, c.pre, c.filter)
		}
		if got := Plain(c.in); got != c.filter {
			t.Errorf("Plain(%q) = %q, want %q", c.in, got, c.filter)
		}
	}
}
