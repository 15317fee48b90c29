package testnode

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// APIClient makes real requests to the node's management HTTP API.
var APIClient = &http.Client{Timeout: 30 * time.Second}

// Call makes one request to the node's HTTP API (path under /api/v4, or
// "/status") with the default application's credentials (admin/public)
// and returns the status and body. body, when not nil, is sent as JSON.
func (n *Node) Call(method, path string, body any) (int, []byte) {
	return n.CallAs("admin", "public", method, path, body)
}

// CallAs is Call with other credentials ("" id: none).
func (n *Node) CallAs(id, secret, method, path string, body any) (int, []byte) {
	n.T.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.T.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	url := "http://" + n.API + path
	if path != "/status" {
		url = "http://" + n.API + "/api/v4" + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		n.T.Fatal(err)
	}
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := APIClient.Do(req)
	if err != nil {
		n.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.T.Fatal(err)
	}
	return resp.StatusCode, b
}

// Data makes a request that must succeed ({"code":0}) and decodes its
// "data" into v (nil: ignored); it returns the body's "meta" when there is one.
func (n *Node) Data(method, path string, body, v any) map[string]any {
	n.T.Helper()
	st, b := n.Call(method, path, body)
	var r struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
		Meta    map[string]any  `json:"meta"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Code != 0 {
		n.T.Fatalf("%s %s: HTTP %d %s", method, path, st, b)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			n.T.Fatalf("%s %s: data %s: %v", method, path, r.Data, err)
		}
	}
	return r.Meta
}
