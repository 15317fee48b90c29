package node_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

// connack311 connects an MQTT 3.1.1 client as id and returns the CONNACK
// return code.
func connack311(t *testing.T, addr, id string) byte {
	t.Helper()
	c, code, err := testutil.Dial311(addr, id)
	if err != nil {
		t.Fatalf("no CONNACK: %v", err)
	}
	c.Close()
	return code
}

func connack5(addr, id string) byte {
	return testutil.ConnackCode(addr, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
}

// TestAPIBanned: a ban added through one node's API refuses the client
// at CONNECT on another node (0x8A for MQTT 5, 5 for 3.1.1), lists on a
// third with EMQX's defaults (by user, 5 minutes), pages as
// emqx_mgmt_api:paginate (no hasnext), and DELETE on yet another node
// lifts it; EMQX's codes for missing and wrong fields.
func TestAPIBanned(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]

	r := call(t, a, "POST", "/banned", map[string]any{"who": "bad1", "as": "clientid", "reason": "spam", "extra": 1})
	wantCode(t, r, 0, "")
	if string(r.Data) != `{"as":"clientid","extra":1,"reason":"spam","who":"bad1"}` {
		t.Fatalf("POST /banned echoes %s", r.Data)
	}
	testutil.Eventually(t, 10*time.Second, "bad1 refused on "+c.Name, func() bool { return connack5(c.Addr, "bad1") == 0x8A })
	if code := connack311(t, c.Addr, "bad1"); code != 5 {
		t.Fatalf("MQTT 3.1.1 CONNACK %d, want 5", code)
	}
	if code := connack5(c.Addr, "good1"); code != 0 {
		t.Fatalf("good1 refused: %#x", code)
	}

	var rows []node.BannedRow
	testutil.Eventually(t, 10*time.Second, "the ban listed on "+b.Name, func() bool {
		r = call(t, b, "GET", "/banned", nil)
		return json.Unmarshal(r.Data, &rows) == nil && len(rows) == 1
	})
	if e := rows[0]; e.Who != "bad1" || e.As != "clientid" || e.By != "user" || e.Reason != "spam" || e.Until-e.At != 300 ||
		time.Since(time.Unix(e.At, 0)) > time.Minute {
		t.Fatalf("listed %+v", e)
	}
	if string(r.Meta) != `{"count":1,"limit":10000,"page":1}` {
		t.Fatalf("meta %s", r.Meta)
	}

	until := time.Now().Add(time.Hour).Unix()
	for _, who := range []map[string]any{
		{"who": "10.0.0.1", "as": "peerhost", "reason": "r", "by": "ops"},
		{"who": "u1", "as": "username", "reason": "r", "until": until},
	} {
		wantCode(t, call(t, a, "POST", "/banned", who), 0, "")
	}
	testutil.Eventually(t, 10*time.Second, "three bans on "+b.Name, func() bool {
		r = call(t, b, "GET", "/banned", nil)
		return json.Unmarshal(r.Data, &rows) == nil && len(rows) == 3
	})
	r = call(t, b, "GET", "/banned?_page=2&_limit=2", nil)
	if json.Unmarshal(r.Data, &rows) != nil || len(rows) != 1 || string(r.Meta) != `{"count":3,"limit":2,"page":2}` {
		t.Fatalf("page 2: %s %s", r.Data, r.Meta)
	}

	// EMQX's failures
	wantCode(t, call(t, a, "POST", "/banned", map[string]any{"who": "x", "reason": "r"}), 107, "missing mandatory params: ['who', 'as']")
	wantCode(t, call(t, a, "POST", "/banned", map[string]any{"who": "x", "as": "ip", "reason": "r"}), 108,
		"value of 'as' must be one of: ['clientid', 'username', 'peerhost']")
	// where EMQX crashes (HTTP 500), a code that says what is wrong
	wantCode(t, call(t, a, "POST", "/banned", map[string]any{"who": "x", "as": "clientid"}), 107,
		"reason is required; by a string; at and until times in seconds")
	wantCode(t, call(t, a, "POST", "/banned", map[string]any{"who": "not-an-ip", "as": "peerhost", "reason": "r"}), 108,
		"peerhost must be an IP address")
	wantCode(t, call(t, b, "DELETE", "/banned/ip/bad1", nil), 108, "value of 'as' must be one of: ['clientid', 'username', 'peerhost']")

	// lifted through another node
	wantCode(t, call(t, b, "DELETE", "/banned/clientid/bad1", nil), 0, "")
	testutil.Eventually(t, 10*time.Second, "bad1 accepted on "+c.Name+" again", func() bool { return connack5(c.Addr, "bad1") == 0 })
	wantCode(t, call(t, c, "DELETE", "/banned/peerhost/10.0.0.1", nil), 0, "")
	wantCode(t, call(t, c, "DELETE", "/banned/clientid/never-banned", nil), 0, "")
	testutil.Eventually(t, 10*time.Second, "one ban left on "+a.Name, func() bool {
		r = call(t, a, "GET", "/banned", nil)
		return json.Unmarshal(r.Data, &rows) == nil && len(rows) == 1 && rows[0].Who == "u1" && rows[0].Until == until
	})
}
