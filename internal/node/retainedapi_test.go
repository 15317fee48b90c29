package node_test

import (
	"encoding/base64"
	"regexp"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

type retainedRow struct {
	Topic           string `json:"topic"`
	QoS             int    `json:"qos"`
	Payload         string `json:"payload"`
	PayloadEncoding string `json:"payload_encoding"`
	FromClientID    string `json:"from_clientid"`
	FromUsername    string `json:"from_username"`
	Timestamp       string `json:"timestamp"`
}

// TestRetainedAPI: messages retained through one node of three are
// listed on another (paged, by topic, filtered, a binary payload in
// base64); a clear by filter on the third clears them cluster-wide, a
// clear without topic all of them; the dashboard's session lists them
// too.
func TestRetainedAPI(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]
	pub := testutil.DialV5(t, a.Addr, "retained-pub")
	retain(t, pub, "r/1", "one")
	retain(t, pub, "r/2", "\xff\x00bin")
	retain(t, pub, "s/1", "three")
	var rows []retainedRow
	testutil.Eventually(t, 10*time.Second, "C lists the 3 retained messages", func() bool {
		rows = nil
		c.Data("GET", "/retainer/messages", nil, &rows)
		return len(rows) == 3
	})
	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	for i, want := range []retainedRow{{Topic: "r/1", QoS: 1, Payload: "one"},
		{Topic: "r/2", QoS: 1, Payload: base64.StdEncoding.EncodeToString([]byte("\xff\x00bin")), PayloadEncoding: "base64"},
		{Topic: "s/1", QoS: 1, Payload: "three"}} {
		got := rows[i]
		if !ts.MatchString(got.Timestamp) {
			t.Errorf("%s timestamp %q", got.Topic, got.Timestamp)
		}
		want.FromClientID, want.Timestamp = "retained-pub", got.Timestamp
		if got != want {
			t.Errorf("row %d: %+v, want %+v", i, got, want)
		}
	}
	meta := c.Data("GET", "/retainer/messages?_page=1&_limit=2", nil, &rows)
	if len(rows) != 2 || rows[1].Topic != "r/2" || meta["count"] != 3.0 || meta["hasnext"] != true {
		t.Fatalf("page 1 of 2: %+v %v", rows, meta)
	}
	meta = c.Data("GET", "/retainer/messages?_page=2&_limit=2", nil, &rows)
	if len(rows) != 1 || rows[0].Topic != "s/1" || meta["hasnext"] != false {
		t.Fatalf("page 2 of 2: %+v %v", rows, meta)
	}
	meta = c.Data("GET", "/retainer/messages?topic=r/%2B", nil, &rows)
	if len(rows) != 2 || meta["count"] != 2.0 {
		t.Fatalf("topic=r/+: %+v %v", rows, meta)
	}
	wantCode(t, call(t, c, "GET", "/retainer/messages?topic=a/%23/b", nil), 115, "bad_topic")
	wantCode(t, call(t, c, "DELETE", "/retainer/messages?topic=", nil), 115, "bad_topic")

	// through the dashboard
	d := newDash(t, b)
	d.login("admin", "public")
	d.ok("GET", "/retainer/messages?topic=s/%23", nil, &rows)
	if len(rows) != 1 || rows[0].Payload != "three" {
		t.Fatalf("dashboard list: %+v", rows)
	}

	var cleaned struct {
		Cleaned int `json:"cleaned"`
	}
	d.ok("DELETE", "/retainer/messages?topic=r/%2B", nil, &cleaned)
	if cleaned.Cleaned != 2 {
		t.Fatalf("clean r/+: %+v", cleaned)
	}
	testutil.Eventually(t, 10*time.Second, "A holds only s/1", func() bool { return ctl(t, a, "retainer topics") == "s/1\n" })
	retain(t, pub, "t/1", "four")
	testutil.Eventually(t, 10*time.Second, "C lists 2", func() bool {
		c.Data("GET", "/retainer/messages", nil, &rows)
		return len(rows) == 2
	})
	c.Data("DELETE", "/retainer/messages", nil, &cleaned)
	if cleaned.Cleaned != 2 {
		t.Fatalf("clean all: %+v", cleaned)
	}
	for _, n := range ns {
		testutil.Eventually(t, 10*time.Second, n.Name+" holds none", func() bool {
			meta := n.Data("GET", "/retainer/messages", nil, &rows)
			return len(rows) == 0 && meta["count"] == 0.0
		})
	}
}
