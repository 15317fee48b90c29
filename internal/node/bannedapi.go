package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	"emqxgo/internal/banned"
	"emqxgo/internal/mgmt"
)

// The HTTP API's banned list (emqx_mgmt_api_banned) on the cluster's
// banned list, which every node enforces at CONNECT: GET /banned (paged;
// meta without hasnext, as emqx_mgmt_api:paginate), POST /banned (who,
// as, reason; by "user", at now and until 5 minutes on by default; times
// in seconds; the answer echoes the fields) and DELETE /banned/{as}/{who}.
// Where EMQX's handler crashes with HTTP 500 (no reason, a peerhost that
// is no IP address) the answer is code 107 or 108 saying what is wrong.

// BannedRow is one ban as the API shows it.
type BannedRow struct {
	As     string `json:"as"`
	At     int64  `json:"at"`
	By     string `json:"by"`
	Reason string `json:"reason"`
	Until  int64  `json:"until"`
	Who    string `json:"who"`
}

func bannedRow(e banned.Entry) BannedRow {
	return BannedRow{As: string(e.Who), At: e.At.Unix(), By: e.By, Reason: e.Reason, Until: e.Until.Unix(), Who: e.Value}
}

var (
	errMissingWhoAs = mgmt.Errorf(mgmt.CodeMissingParam, "missing mandatory params: ['who', 'as']")
	errBadPeerHost  = mgmt.Errorf(mgmt.CodeParamType, "peerhost must be an IP address")
	errBadAs        = mgmt.Errorf(mgmt.CodeParamType, "value of 'as' must be one of: ['clientid', 'username', 'peerhost']")
)

// bannedAs is the "as" of a request as the list names it; false when it
// is not one of EMQX's three.
func bannedAs(s string) (banned.Who, bool) {
	switch w := banned.Who(s); w {
	case banned.ClientID, banned.Username, banned.PeerHost:
		return w, true
	}
	return "", false
}

func init() {
	registerAPI("GET /banned", func(n *Node, r *mgmt.Request) (any, error) {
		page, limit, err := r.Paging()
		if err != nil {
			return nil, err
		}
		all := n.banned.List()
		rows := []BannedRow{}
		if start := (page - 1) * limit; start < len(all) {
			for _, e := range all[start:min(len(all), start+limit)] {
				rows = append(rows, bannedRow(e))
			}
		}
		return jsonBody(http.StatusOK, map[string]any{"code": mgmt.CodeOK, "data": rows,
			"meta": map[string]int{"page": page, "limit": limit, "count": len(all)}}), nil
	})
	registerAPI("POST /banned", func(n *Node, r *mgmt.Request) (any, error) {
		body, err := requestBody(r)
		if err != nil {
			return badRequest, nil
		}
		ps := queryParams(r)
		if body != nil {
			fields, isObj := objectPairs(body)
			if _, isArr := arrayItems(body); !isObj && !isArr {
				return nil, errBadParamsAt
			}
			ps = append(ps, fields...)
		}
		if _, ok := ps.get("who"); !ok {
			return nil, errMissingWhoAs
		}
		asRaw, ok := ps.get("as")
		if !ok {
			return nil, errMissingWhoAs
		}
		asText, _ := jsonString(asRaw)
		as, ok := bannedAs(asText)
		if !ok {
			return nil, errBadAs
		}
		e, ok := readBan(ps, as)
		if !ok {
			return nil, mgmt.Errorf(mgmt.CodeMissingParam, "reason is required; by a string; at and until times in seconds")
		}
		switch _, err := n.banned.Add(e); {
		case errors.Is(err, banned.ErrValue) && as == banned.PeerHost:
			return nil, errBadPeerHost
		case errors.Is(err, banned.ErrValue), errors.Is(err, banned.ErrUntil):
			// EMQX keeps an entry no client matches (an empty name) or
			// that has run out already: no ban either way.
		case err != nil:
			return nil, err
		}
		return echoFields(ps), nil
	})
	registerAPI("DELETE /banned/{as}/{who}", func(n *Node, r *mgmt.Request) (any, error) {
		as, ok := bannedAs(r.Path("as"))
		if !ok {
			return nil, errBadAs
		}
		switch err := n.banned.Delete(as, r.Path("who")); {
		case errors.Is(err, banned.ErrValue) && as == banned.PeerHost:
			return nil, errBadPeerHost
		case errors.Is(err, banned.ErrValue): // no such entry
		case err != nil:
			return nil, err
		}
		return nil, nil
	})
}

// readBan is pack_banned: who, reason (required), by ("user"), at (now)
// and until (now + 5 minutes, whatever at says), in seconds. false: EMQX
// would crash on these fields (or they are no time).
func readBan(ps params, as banned.Who) (banned.Entry, bool) {
	now := time.Now().Unix()
	e := banned.Entry{Who: as, By: "user", At: time.Unix(now, 0), Until: time.Unix(now+int64(banned.DefaultDuration/time.Second), 0)}
	var ok bool
	if e.Value, ok = jsonStringParam(ps, "who"); !ok {
		return e, false
	}
	if e.Reason, ok = jsonStringParam(ps, "reason"); !ok {
		return e, false // no reason: pack_banned's badmatch
	}
	if v, has := ps.get("by"); has {
		if e.By, ok = jsonString(v); !ok {
			return e, false
		}
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"at", &e.At}, {"until", &e.Until}} {
		v, has := ps.get(f.name)
		if !has {
			continue
		}
		var x float64
		if json.Unmarshal(v, &x) != nil || x < 0 || x > 1<<40 {
			return e, false
		}
		*f.t = time.Unix(int64(x), 0)
	}
	return e, true
}

func jsonStringParam(ps params, key string) (string, bool) {
	v, ok := ps.get(key)
	if !ok {
		return "", false
	}
	return jsonString(v)
}

// echoFields is POST /banned's answer: {"code":0,"data":Fields} with the
// request's fields as maps:from_list makes them (the last of a name wins)
// and jiffy writes them (a small map: by name).
func echoFields(ps params) mgmt.Raw {
	last := map[string]json.RawMessage{}
	for _, p := range ps {
		last[p.key] = p.val
	}
	var b bytes.Buffer
	b.WriteString(`{"code":0,"data":{`)
	for i, k := range slices.Sorted(maps.Keys(last)) {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		_ = json.Compact(&b, last[k])
	}
	b.WriteString("}}")
	return mgmt.Raw{ContentType: "application/json", Status: http.StatusOK, Body: b.Bytes()}
}

// jsonBody is v as a JSON body with status.
func jsonBody(status int, v any) mgmt.Raw {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"code": mgmt.CodeUnknown, "message": err.Error()})
	}
	return mgmt.Raw{ContentType: "application/json", Status: status, Body: b}
}
