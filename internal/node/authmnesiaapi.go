package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"emqxgo/internal/access/authmnesia"
	"emqxgo/internal/access/passwd"
	"emqxgo/internal/mgmt"
)

// The built-in database over HTTP, as EMQX 4.4's emqx_auth_mnesia_api and
// emqx_acl_mnesia_api (served while emqx_auth_mnesia runs on the node
// asked; else code 102 "emqx_auth_mnesia is not loaded", HTTP 404). The
// tables are the cluster's, so one node answers for all.
//
//	GET|POST /auth_username, GET|PUT|DELETE /auth_username/{username}
//	GET|POST /auth_clientid, GET|PUT|DELETE /auth_clientid/{clientid}
//	GET /acl/clientid, /acl/username, /acl/$all (and /acl: every rule)
//	GET /acl/clientid/{clientid}, /acl/username/{username}
//	POST /acl
//	DELETE /acl/clientid/{clientid}/topic/{topic}, /acl/username/{username}/topic/{topic},
//	       /acl/$all/topic/{topic}
//
// Answers are EMQX's: {"code":0[,"data"]} or minirest's {"message":...};
// a POST body may be one object or a list of them (a batch, answered per
// item, in reverse order as EMQX does).

// aclPageLimit is the ACL lists' page size when _limit is not given.
const aclPageLimit = 50

var errMnesiaNotLoaded = &mgmt.Error{Code: mgmt.CodeUnknown, Message: authmnesia.Name + " is not loaded", Status: http.StatusNotFound}

// mnesiaAPI registers a route served while the plugin runs here.
func mnesiaAPI(pattern string, h func(n *Node, db *authmnesia.DB, r *mgmt.Request) (any, error)) {
	registerAPI(pattern, func(n *Node, r *mgmt.Request) (any, error) {
		if !n.access.plugins.Active(authmnesia.Name) {
			return nil, errMnesiaNotLoaded
		}
		return h(n, n.access.db, r)
	})
}

// mnesiaHash is the password hash of new passwords (auth.mnesia.password_hash).
func (n *Node) mnesiaHash() passwd.Alg {
	if cfg, err := n.pluginConfig(); err == nil {
		return cfg.Plugins.Mnesia.PasswordHash
	}
	return n.cfg.Plugins.Mnesia.PasswordHash
}

// bodyItems are a POST body's objects: one, or a list; ok false when the
// body is neither (minirest: 400).
func bodyItems(r *mgmt.Request) (items []params, batch, ok bool) {
	b := bytes.TrimSpace(r.Body)
	if ps, ok := objectPairs(b); ok {
		return []params{ps}, false, true
	}
	raw, ok := arrayItems(b)
	if !ok || len(raw) == 0 {
		return nil, false, false
	}
	for _, it := range raw {
		ps, ok := objectPairs(it)
		if !ok {
			return nil, false, false
		}
		items = append(items, ps)
	}
	return items, true, true
}

// nonEmpty is field k of ps if it is a non-empty string.
func (ps params) nonEmpty(k string) (string, bool) {
	v, ok := ps.get(k)
	if !ok {
		return "", false
	}
	s, ok := jsonString(v)
	return s, ok && s != ""
}

// erlValue is a request value as Erlang prints it (~0p) after jsx
// decoded it: a string a binary, absent undefined.
func erlValue(v json.RawMessage, present bool) string {
	if !present {
		return "undefined"
	}
	if s, ok := jsonString(v); ok {
		return erlBinary(s)
	}
	return strings.TrimSpace(string(v)) // numbers; true, false, null are atoms
}

// --- users and client ids

type mnesiaKind struct {
	kind authmnesia.Kind
	key  string // "username", "clientid"
}

func (k mnesiaKind) row(u authmnesia.User) map[string]any {
	return map[string]any{k.key: u.ID, "created_at": u.CreatedAt}
}

// list is emqx_mgmt_api:node_query over the logins: filters key (exact)
// and _like_<key> (a part); count is -1 with a filter, as EMQX's.
func (k mnesiaKind) list(db *authmnesia.DB, r *mgmt.Request) (any, error) {
	page, limit, err := r.Paging()
	if err != nil {
		return nil, err
	}
	all := db.List(k.kind)
	filtered := r.Has(k.key) || r.Has("_like_"+k.key)
	if filtered {
		exact, like := r.Query(k.key), r.Query("_like_"+k.key)
		all = slices.DeleteFunc(all, func(u authmnesia.User) bool {
			return r.Has(k.key) && u.ID != exact || !strings.Contains(u.ID, like)
		})
	}
	rows := []map[string]any{}
	skip := min(page-1, len(all)/limit+1) * limit
	for _, u := range all[min(skip, len(all)):min(skip+limit, len(all))] {
		rows = append(rows, k.row(u))
	}
	meta := mgmt.Meta{Page: page, Limit: limit, Count: len(all), HasNext: skip+limit < len(all)}
	if filtered {
		meta.Count = -1
	}
	return mgmt.Paged{Data: rows, Meta: meta}, nil
}

// add is emqx_auth_mnesia_api's add_username/add_clientid.
func (k mnesiaKind) add(n *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
	items, batch, ok := bodyItems(r)
	if !ok {
		return badRequest, nil
	}
	alg := n.mnesiaHash()
	one := func(ps params) error {
		id, ok := ps.nonEmpty(k.key)
		if !ok {
			return errors.New("login")
		}
		pw, ok := ps.nonEmpty("password")
		if !ok {
			return errors.New("password")
		}
		return db.AddUser(k.kind, id, []byte(pw), alg)
	}
	if !batch {
		if err := one(items[0]); err != nil {
			return messageOnly(err.Error()), nil
		}
		return nil, nil
	}
	// {Login: "ok" | "{error,Reason}"}, added in order, listed the last
	// first.
	pairs := make([][]byte, len(items))
	for i, it := range items {
		key := "undefined"
		if v, ok := it.get(k.key); ok {
			if s, ok := jsonString(v); ok {
				key = s
			} else {
				key = strings.TrimSpace(string(v))
			}
		}
		res := "ok"
		if err := one(it); err != nil {
			res = "{error," + err.Error() + "}"
		}
		kb, _ := json.Marshal(key)
		vb, _ := json.Marshal(res)
		pairs[i] = append(append(kb, ':'), vb...)
	}
	slices.Reverse(pairs)
	return json.RawMessage("{" + string(bytes.Join(pairs, []byte(","))) + "}"), nil
}

func init() {
	for _, k := range []mnesiaKind{{authmnesia.Username, "username"}, {authmnesia.ClientID, "clientid"}} {
		base := "/auth_" + k.key
		mnesiaAPI("GET "+base, func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) { return k.list(db, r) })
		mnesiaAPI("POST "+base, k.add)
		mnesiaAPI("GET "+base+"/{login}", func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
			u, ok := db.Lookup(k.kind, r.Path("login"))
			if !ok {
				return map[string]any{}, nil
			}
			return k.row(u), nil
		})
		mnesiaAPI("PUT "+base+"/{login}", func(n *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
			var ps params
			if b := bytes.TrimSpace(r.Body); len(b) > 0 {
				var ok bool
				if ps, ok = objectPairs(b); !ok {
					return badRequest, nil
				}
			}
			pw, ok := ps.nonEmpty("password")
			if !ok {
				return messageOnly("password"), nil
			}
			if err := db.UpdateUser(k.kind, r.Path("login"), []byte(pw), n.mnesiaHash()); err != nil {
				return messageOnly(err.Error()), nil
			}
			return nil, nil
		})
		mnesiaAPI("DELETE "+base+"/{login}", func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
			db.DeleteUser(k.kind, r.Path("login"))
			return nil, nil
		})
	}

	// ACL
	for _, k := range []mnesiaKind{{authmnesia.ClientID, "clientid"}, {authmnesia.Username, "username"}, {authmnesia.All, "$all"}} {
		mnesiaAPI("GET /acl/"+k.key, func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
			return aclList(db, k.kind, r)
		})
		if k.kind == authmnesia.All {
			mnesiaAPI("DELETE /acl/$all/topic/{topic...}", func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
				db.DeleteACL(authmnesia.All, "", r.Path("topic"))
				return nil, nil
			})
			continue
		}
		mnesiaAPI("GET /acl/"+k.key+"/{login}", func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
			out := []map[string]any{}
			for _, rule := range db.Rules(k.kind, r.Path("login")) {
				out = append(out, aclRow(rule))
			}
			return out, nil
		})
		mnesiaAPI("DELETE /acl/"+k.key+"/{login}/topic/{topic...}", func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
			db.DeleteACL(k.kind, r.Path("login"), r.Path("topic"))
			return nil, nil
		})
	}
	mnesiaAPI("GET /acl", func(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) { return aclList(db, "", r) })
	mnesiaAPI("POST /acl", aclAdd)
}

// aclRow is a rule as EMQX formats it.
func aclRow(r authmnesia.Rule) map[string]any {
	row := map[string]any{"topic": r.Topic, "action": r.Action, "access": r.Access}
	switch r.Kind {
	case authmnesia.All:
		row["all"] = "$all"
	default:
		row[string(r.Kind)] = r.Login
	}
	return row
}

// aclList is emqx_acl_mnesia_api's list_clientid, list_username,
// list_all: filters clientid|username (exact), _like_clientid|
// _like_username (a part), topic, action, access (exact); pages of 50
// unless _limit; count is of the rows filtered.
func aclList(db *authmnesia.DB, kind authmnesia.Kind, r *mgmt.Request) (any, error) {
	page, err := r.Page()
	if err != nil {
		return nil, err
	}
	limit := aclPageLimit
	if r.Has("_limit") {
		if limit, err = r.Limit(); err != nil {
			return nil, err
		}
	}
	rules := db.Rules(kind, "")
	rules = slices.DeleteFunc(rules, func(rule authmnesia.Rule) bool {
		if kind != authmnesia.All {
			key := string(rule.Kind)
			if r.Has(key) && rule.Login != r.Query(key) || r.Has("_like_"+key) && !strings.Contains(rule.Login, r.Query("_like_"+key)) {
				return true
			}
		}
		return r.Has("topic") && rule.Topic != r.Query("topic") || r.Has("action") && rule.Action != r.Query("action") ||
			r.Has("access") && rule.Access != r.Query("access")
	})
	rows := []map[string]any{}
	skip := min(page-1, len(rules)/limit+1) * limit
	for _, rule := range rules[min(skip, len(rules)):min(skip+limit, len(rules))] {
		rows = append(rows, aclRow(rule))
	}
	return mgmt.Paged{Data: rows, Meta: mgmt.Meta{Page: page, Limit: limit, Count: len(rules), HasNext: skip+limit < len(rules)}}, nil
}

// aclAdd is emqx_acl_mnesia_api's add: clientid or username (neither:
// $all), topic, action (pub, sub, pubsub), access (allow, deny).
func aclAdd(_ *Node, db *authmnesia.DB, r *mgmt.Request) (any, error) {
	items, batch, ok := bodyItems(r)
	if !ok {
		return badRequest, nil
	}
	type added struct {
		row  map[string]any
		term string // the row as ~0p prints it, for a failure
		ok   bool
	}
	one := func(ps params) (added, error) {
		cv, hasC := ps.get("clientid")
		uv, hasU := ps.get("username")
		if hasC && hasU {
			return added{}, mgmt.Errorf(mgmt.CodeParamType, "clientid and username both given")
		}
		kind, key, loginRaw := authmnesia.All, "all", json.RawMessage(nil)
		switch {
		case hasC:
			kind, key, loginRaw = authmnesia.ClientID, "clientid", cv
		case hasU:
			kind, key, loginRaw = authmnesia.Username, "username", uv
		}
		topicRaw, hasTopic := ps.get("topic")
		actionRaw, hasAction := ps.get("action")
		accessRaw, hasAccess := ps.get("access")
		login, _ := jsonString(loginRaw)
		topic, _ := jsonString(topicRaw)
		action, _ := jsonString(actionRaw)
		acc, _ := jsonString(accessRaw)
		result := "ok"
		switch {
		case kind != authmnesia.All && login == "":
			result = "{error,login}"
		case topic == "":
			result = "{error,topic}"
		case action != "pub" && action != "sub" && action != "pubsub":
			result = "{error,action}"
		case acc != "allow" && acc != "deny":
			result = "{error,access}"
		default:
			if err := db.AddACL(kind, login, topic, action, acc); err != nil {
				result = fmt.Sprintf("{error,%s}", errTerm(err))
			}
		}
		row := map[string]any{"topic": jsonAny(topicRaw, hasTopic), "action": jsonAny(actionRaw, hasAction),
			"access": jsonAny(accessRaw, hasAccess), "result": result}
		loginTerm := "'$all'"
		if kind == authmnesia.All {
			row["all"] = "$all"
		} else {
			row[key] = jsonAny(loginRaw, true)
			loginTerm = erlValue(loginRaw, true)
		}
		// #{access => .., action => .., all|clientid|username => .., result => .., topic => ..}
		term := fmt.Sprintf("#{access => %s,action => %s,%s => %s,result => %s,topic => %s}",
			erlValue(accessRaw, hasAccess), erlValue(actionRaw, hasAction), key, loginTerm, erlBinary(result), erlValue(topicRaw, hasTopic))
		return added{row: row, term: term, ok: result == "ok"}, nil
	}
	if !batch {
		a, err := one(items[0])
		if err != nil {
			return nil, err
		}
		if !a.ok {
			return messageOnly("{add," + a.term + "}"), nil
		}
		return a.row, nil
	}
	out := []map[string]any{}
	for _, it := range items { // added in order, listed the last first
		a, err := one(it)
		if err != nil {
			return nil, err
		}
		out = append(out, a.row)
	}
	slices.Reverse(out)
	return out, nil
}

// jsonAny is a request value as EMQX writes it back: as it came, absent
// "undefined".
func jsonAny(v json.RawMessage, present bool) any {
	if !present {
		return "undefined"
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return nil
	}
	return x
}
