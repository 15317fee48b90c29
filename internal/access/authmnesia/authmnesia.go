package authmnesia

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"emqxgo/internal/access"
	"emqxgo/internal/access/passwd"
)

// Name is the plugin's name.
const Name = "emqx_auth_mnesia"

// Description is what `plugins list` shows.
const Description = "EMQX Authentication with Mnesia"

// Table names of the replicated tables.
const (
	UserTable = "emqx_user"
	ACLTable  = "emqx_acl"
)

// Table is a replicated table (fabric.Table).
type Table interface {
	Put(key string, value []byte) error
	Delete(key string)
	Get(key string) ([]byte, bool)
	Range(fn func(key string, value []byte) bool)
	OnChange(fn func(key string, value []byte, deleted bool))
}

// Errors, as EMQX names them.
var (
	ErrExisted   = errors.New("existed")
	ErrNoExisted = errors.New("noexisted")
)

// Kind is what a login names.
type Kind string

const (
	ClientID Kind = "clientid"
	Username Kind = "username"
	All      Kind = "$all" // ACL rules for every client
)

// userKey is the table key of a login.
func userKey(k Kind, id string) string { return string(k) + ":" + id }

type userRecord struct {
	Password  string `json:"password"` // passwd record, base64 (EMQX's export form)
	CreatedAt int64  `json:"created_at"`
}

// Rule is one ACL rule of the database.
type Rule struct {
	Kind      Kind
	Login     string // "" for All
	Topic     string
	Action    string // pub or sub
	Access    string // allow or deny
	CreatedAt int64  // ms
}

type aclRecord struct {
	Access    string `json:"access"`
	CreatedAt int64  `json:"created_at"`
}

func aclKey(k Kind, login, topic, action string) string {
	return string(k) + "\x00" + login + "\x00" + action + "\x00" + topic
}

func parseACLKey(key string, v []byte) (Rule, bool) {
	p := strings.SplitN(key, "\x00", 4)
	var rec aclRecord
	if len(p) != 4 || json.Unmarshal(v, &rec) != nil {
		return Rule{}, false
	}
	return Rule{Kind: Kind(p[0]), Login: p[1], Action: p[2], Topic: p[3], Access: rec.Access, CreatedAt: rec.CreatedAt}, true
}

// DB is the database over its two tables.
type DB struct {
	users, acls Table
	now         func() time.Time

	mu    sync.RWMutex
	index map[string][]Rule // kind:login -> rules, newest first
}

// Open reads the tables and keeps the ACL index current from then on.
func Open(users, acls Table) *DB {
	db := &DB{users: users, acls: acls, now: time.Now, index: map[string][]Rule{}}
	acls.OnChange(func(key string, v []byte, deleted bool) { db.indexChange(key, v, deleted) })
	acls.Range(func(key string, v []byte) bool {
		db.indexChange(key, v, false)
		return true
	})
	return db
}

func indexKey(k Kind, login string) string { return string(k) + ":" + login }

func (db *DB) indexChange(key string, v []byte, deleted bool) {
	p := strings.SplitN(key, "\x00", 4)
	if len(p) != 4 {
		return
	}
	ik := indexKey(Kind(p[0]), p[1])
	db.mu.Lock()
	defer db.mu.Unlock()
	rs := slices.DeleteFunc(slices.Clone(db.index[ik]), func(r Rule) bool { return r.Action == p[2] && r.Topic == p[3] })
	if !deleted {
		if r, ok := parseACLKey(key, v); ok {
			rs = append(rs, r)
		}
	}
	slices.SortStableFunc(rs, func(a, b Rule) int { return int(b.CreatedAt - a.CreatedAt) })
	if len(rs) == 0 {
		delete(db.index, ik)
	} else {
		db.index[ik] = rs
	}
}

// AddUser adds a login (ErrExisted if it has one).
func (db *DB) AddUser(k Kind, id string, password []byte, alg passwd.Alg) error {
	if _, ok := db.users.Get(userKey(k, id)); ok {
		return ErrExisted
	}
	return db.putUser(k, id, password, alg, db.now().UnixMilli())
}

// UpdateUser sets a new password (ErrNoExisted if there is no such login).
func (db *DB) UpdateUser(k Kind, id string, password []byte, alg passwd.Alg) error {
	v, ok := db.users.Get(userKey(k, id))
	if !ok {
		return ErrNoExisted
	}
	var old userRecord
	_ = json.Unmarshal(v, &old)
	return db.putUser(k, id, password, alg, old.CreatedAt)
}

func (db *DB) putUser(k Kind, id string, password []byte, alg passwd.Alg, created int64) error {
	rec, err := passwd.NewRecord(alg, password)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(userRecord{Password: passwd.EncodeRecord(rec), CreatedAt: created})
	return db.users.Put(userKey(k, id), b)
}

// DeleteUser removes a login (no error if there was none, as EMQX).
func (db *DB) DeleteUser(k Kind, id string) { db.users.Delete(userKey(k, id)) }

// User is a login of the database: its id and when it was added (unix
// ms).
type User struct {
	ID        string
	CreatedAt int64
}

// Users lists the logins of kind k, newest first (as EMQX lists them).
func (db *DB) Users(k Kind) []string {
	us := db.List(k)
	out := make([]string, len(us))
	for i, x := range us {
		out[i] = x.ID
	}
	return out
}

// List is the logins of kind k with their creation times, newest first.
func (db *DB) List(k Kind) []User {
	var us []User
	prefix := string(k) + ":"
	db.users.Range(func(key string, v []byte) bool {
		if id, ok := strings.CutPrefix(key, prefix); ok {
			var rec userRecord
			_ = json.Unmarshal(v, &rec)
			us = append(us, User{id, rec.CreatedAt})
		}
		return true
	})
	slices.SortStableFunc(us, func(a, b User) int {
		if a.CreatedAt != b.CreatedAt {
			return cmp.Compare(b.CreatedAt, a.CreatedAt)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return us
}

// Lookup is the login id of kind k (false: none).
func (db *DB) Lookup(k Kind, id string) (User, bool) {
	v, ok := db.users.Get(userKey(k, id))
	if !ok {
		return User{}, false
	}
	var rec userRecord
	_ = json.Unmarshal(v, &rec)
	return User{id, rec.CreatedAt}, true
}

// checkPassword: ok is whether any record of the logins matches; found
// whether there was any record.
func (db *DB) checkPassword(logins []string, password []byte, alg passwd.Alg) (found, ok bool) {
	for _, key := range logins {
		v, has := db.users.Get(key)
		if !has {
			continue
		}
		found = true
		var rec userRecord
		if json.Unmarshal(v, &rec) != nil {
			continue
		}
		r, err := passwd.DecodeRecord(rec.Password)
		if err == nil && passwd.CheckRecord(alg, r, password) {
			return true, true
		}
	}
	return found, false
}

// AddACL adds a rule (action pub, sub or pubsub: one rule for each).
func (db *DB) AddACL(k Kind, login, topic, action, acc string) error {
	acts := []string{action}
	if action == "pubsub" {
		acts = []string{"pub", "sub"}
	}
	b, _ := json.Marshal(aclRecord{Access: acc, CreatedAt: db.now().UnixMilli()})
	for _, a := range acts {
		if err := db.acls.Put(aclKey(k, login, topic, a), b); err != nil {
			return err
		}
	}
	return nil
}

// DeleteACL removes the rules of login on topic (both actions).
func (db *DB) DeleteACL(k Kind, login, topic string) {
	for _, a := range []string{"pub", "sub"} {
		db.acls.Delete(aclKey(k, login, topic, a))
	}
}

// Rules lists the rules of kind k ("" every kind) and login ("" every
// login), newest first.
func (db *DB) Rules(k Kind, login string) []Rule {
	db.mu.RLock()
	var out []Rule
	for _, rs := range db.index {
		for _, r := range rs {
			if (k == "" || r.Kind == k) && (login == "" || r.Login == login) {
				out = append(out, r)
			}
		}
	}
	db.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b Rule) int {
		if a.CreatedAt != b.CreatedAt {
			return int(b.CreatedAt - a.CreatedAt)
		}
		return strings.Compare(a.Topic+a.Action, b.Topic+b.Action)
	})
	return out
}

// Plugin is the running plugin: an authenticator and an ACL source.
type Plugin struct {
	db  *DB
	alg passwd.Alg
}

// New returns the plugin over db with the configured hash.
func New(db *DB, alg passwd.Alg) *Plugin { return &Plugin{db: db, alg: alg} }

func (p *Plugin) Name() string { return Name }

// Authenticate implements access.Authenticator.
func (p *Plugin) Authenticate(_ context.Context, c *access.Client) (access.Result, error) {
	logins := []string{userKey(ClientID, c.ClientID)}
	if c.Username != "" {
		logins = append(logins, userKey(Username, c.Username))
	}
	found, ok := p.db.checkPassword(logins, c.Password, p.alg)
	switch {
	case !found:
		return access.Ignore, nil
	case ok:
		return access.Allow, nil
	}
	c.Reason = access.BadUsernameOrPassword // EMQX's password_error
	return access.Deny, nil
}

// CheckACL implements access.ACLChecker.
func (p *Plugin) CheckACL(_ context.Context, c *access.Client, a access.Action, topic string) (access.Result, error) {
	act := "pub"
	if a == access.Subscribe {
		act = "sub"
	}
	p.db.mu.RLock()
	defer p.db.mu.RUnlock()
	lists := [][]Rule{p.db.index[indexKey(ClientID, c.ClientID)]}
	if c.Username != "" {
		lists = append(lists, p.db.index[indexKey(Username, c.Username)])
	}
	lists = append(lists, p.db.index[indexKey(All, "")])
	for _, rs := range lists {
		for _, r := range rs {
			if r.Action == act && topicMatch(topic, feedVars(r.Topic, c)) {
				if r.Access == "allow" {
					return access.Allow, nil
				}
				return access.Deny, nil
			}
		}
	}
	return access.Ignore, nil
}

// feedVars puts the client id and user name in for whole levels %c and
// %u (left as they are when the client has none).
func feedVars(filter string, c *access.Client) string {
	if !strings.Contains(filter, "%") {
		return filter
	}
	ws := strings.Split(filter, "/")
	for i, w := range ws {
		switch {
		case w == "%c" && c.ClientID != "":
			ws[i] = c.ClientID
		case w == "%u" && c.Username != "":
			ws[i] = c.Username
		}
	}
	return strings.Join(ws, "/")
}

// topicMatch is EMQX's emqx_topic:match(Name, Filter): '+' one level, '#'
// the rest (also none); a topic starting with '$' is not matched by a
// filter starting with a wildcard. The name's own wildcards (a SUBSCRIBE
// filter) are plain levels.
func topicMatch(name, filter string) bool {
	if strings.HasPrefix(name, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	ns, fs := strings.Split(name, "/"), strings.Split(filter, "/")
	for i, f := range fs {
		if f == "#" {
			return i == len(fs)-1
		}
		if i >= len(ns) || f != "+" && f != ns[i] {
			return false
		}
	}
	return len(ns) == len(fs)
}

// Seed adds the users and client ids of the plugin's configuration
// (auth.user.N.*, auth.client.N.*) that are not in the database; one that
// is there with another password keeps it (it may have been changed
// since), as EMQX does, and is returned for a warning.
func (db *DB) Seed(k Kind, id, password string, alg passwd.Alg) (kept bool, err error) {
	err = db.AddUser(k, id, []byte(password), alg)
	if !errors.Is(err, ErrExisted) {
		return false, err
	}
	found, ok := db.checkPassword([]string{userKey(k, id)}, []byte(password), alg)
	return found && !ok, nil
}

// String forms for the CLI.

func erlBinary(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `<<"` + r.Replace(s) + `">>`
}

func (r Rule) String() string {
	switch r.Kind {
	case ClientID:
		return fmt.Sprintf("Acl(clientid = %s topic = %s action = %s access = %s)", erlBinary(r.Login), erlBinary(r.Topic), r.Action, r.Access)
	case Username:
		return fmt.Sprintf("Acl(username = %s topic = %s action = %s access = %s)", erlBinary(r.Login), erlBinary(r.Topic), r.Action, r.Access)
	}
	return fmt.Sprintf("Acl($all topic = %s action = %s access = %s)", erlBinary(r.Topic), r.Action, r.Access)
}
