// Package mgmtapps is the HTTP API's applications (EMQX 4.4's
// emqx_mgmt_auth, table mqtt_app): an id and a secret a request
// authenticates with (HTTP basic auth), a name, a description, a status
// and an optional end. They live in a replicated table (fabric.Table,
// TableName), so an application added on one node authenticates on every
// node; the default application (management.default_application.id and
// .secret) is seeded at boot, so that what the cluster did to it (a new
// status, a delete) stands. Secrets are kept as they are, as EMQX keeps
// them: emqx_ctl mgmt lookup and GET /apps/{appid} show them.
package mgmtapps

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
)

// TableName is the replicated table of the applications.
const TableName = "mqtt_app"

// Table is a replicated table (fabric.Table).
type Table interface {
	Put(key string, value []byte) error
	Delete(key string)
	Get(key string) ([]byte, bool)
	Range(fn func(key string, value []byte) bool)
	// Seed sets key where the table holds nothing for it, as the oldest
	// version (any write or delete in the cluster replaces it).
	Seed(key string, value []byte) (bool, error)
}

// App is one application. Expired is its end (unix seconds), nil: none
// (EMQX's undefined).
type App struct {
	ID      string `json:"app_id"`
	Secret  string `json:"secret"`
	Name    string `json:"name"`
	Desc    string `json:"desc"`
	Status  bool   `json:"status"`
	Expired *int64 `json:"expired"`
}

// Errors, as EMQX's reasons.
var (
	ErrExisted  = errors.New("already_existed")
	ErrNotFound = errors.New("not_found")
)

// IDError is an application id EMQX would not take (emqx_misc:is_sane_id):
// its message is EMQX's.
type IDError struct{ Msg string }

func (e *IDError) Error() string { return e.Msg }

var saneID = regexp.MustCompile(`^[A-Za-z0-9]+[A-Za-z0-9-_]*$`)

// CheckID is emqx_misc:is_sane_id/1: 1 to 256 characters, letters and
// digits first, then also - and _.
func CheckID(id string) error {
	if n := len([]rune(id)); n < 1 || n > 256 {
		return &IDError{"0 < Length =< 256"}
	}
	if !saneID.MatchString(id) {
		return &IDError{"required: ^[A-Za-z0-9]+[A-Za-z0-9-_]*$"}
	}
	return nil
}

// DefaultDesc is the description of the applications emqx_ctl adds and of
// the default one.
const DefaultDesc = "Application user"

// Store is the applications over their table.
type Store struct {
	t   Table
	now func() time.Time
}

// Open uses t.
func Open(t Table) *Store { return &Store{t: t, now: time.Now} }

// SeedDefault seeds the default application (emqx_mgmt_auth:
// add_default_app): name Default, enabled, no end.
func (s *Store) SeedDefault(id, secret string) error {
	if id == "" || secret == "" {
		return nil
	}
	b, _ := json.Marshal(App{ID: id, Secret: secret, Name: "Default", Desc: DefaultDesc, Status: true})
	_, err := s.t.Seed(id, b)
	return err
}

// NewSecret is a random secret: 32 random bytes in base 62 (as
// emqx_base62:encode of crypto:strong_rand_bytes(32)).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return new(big.Int).SetBytes(b).Text(62)
}

// Add adds an application (emqx_mgmt_auth:add_app/6); an empty secret is
// a new random one. It returns the secret.
func (s *Store) Add(a App) (string, error) {
	if err := CheckID(a.ID); err != nil {
		return "", err
	}
	if a.Secret == "" {
		a.Secret = NewSecret()
	}
	if _, ok := s.t.Get(a.ID); ok {
		return "", ErrExisted
	}
	return a.Secret, s.put(a)
}

func (s *Store) put(a App) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.t.Put(a.ID, b)
}

// Lookup is one application.
func (s *Store) Lookup(id string) (App, bool) {
	b, ok := s.t.Get(id)
	if !ok {
		return App{}, false
	}
	var a App
	if json.Unmarshal(b, &a) != nil {
		return App{}, false
	}
	return a, true
}

// SetStatus enables or disables an application (ErrNotFound).
func (s *Store) SetStatus(id string, status bool) error {
	a, ok := s.Lookup(id)
	if !ok {
		return ErrNotFound
	}
	a.Status = status
	return s.put(a)
}

// Update changes an application's name, description, status and end
// (ErrNotFound).
func (s *Store) Update(id, name, desc string, status bool, expired *int64) error {
	a, ok := s.Lookup(id)
	if !ok {
		return ErrNotFound
	}
	a.Name, a.Desc, a.Status, a.Expired = name, desc, status, expired
	return s.put(a)
}

// Delete removes an application (one that is not there too, as EMQX).
func (s *Store) Delete(id string) { s.t.Delete(id) }

// List is every application, by id.
func (s *Store) List() []App {
	var out []App
	s.t.Range(func(_ string, b []byte) bool {
		var a App
		if json.Unmarshal(b, &a) == nil {
			out = append(out, a)
		}
		return true
	})
	slices.SortFunc(out, func(x, y App) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Authorized is emqx_mgmt_auth:is_authorized/2: the application exists,
// is enabled, has not ended, and the secret is its.
func (s *Store) Authorized(id, secret string) bool {
	a, ok := s.Lookup(id)
	if !ok || !a.Status || a.Expired != nil && *a.Expired < s.now().Unix() {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(a.Secret)) == 1
}
