// Package admins is the dashboard's users (EMQX 4.4's
// emqx_dashboard_admin, table mqtt_admin): a username, a salted password
// hash and tags. They live in a replicated table (fabric.Table,
// TableName), so a user added or changed on one node is the same on every
// node. The default user (dashboard.default_user.login and .password) is
// seeded at boot, so that a password the cluster changed stands, and comes
// back when it is looked up after a delete (with the last password it had
// here), as EMQX's.
//
// The hash is EMQX's: a random 4-byte salt, then MD5 of the salt and the
// password (<<Salt:4/binary, MD5/binary>>), so EMQX's exported users keep
// their passwords.
package admins

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// TableName is the replicated table of the users.
const TableName = "mqtt_admin"

// Table is a replicated table (fabric.Table).
type Table interface {
	Put(key string, value []byte) error
	Delete(key string)
	Get(key string) ([]byte, bool)
	Range(fn func(key string, value []byte) bool)
	OnChange(fn func(key string, value []byte, deleted bool))
	// Seed sets key where the table holds nothing for it, as the oldest
	// version (any write or delete in the cluster replaces it).
	Seed(key string, value []byte) (bool, error)
}

// Error is a failure as EMQX's binary reason (emqx_ctl prints it as
// <<"...">>).
type Error string

func (e Error) Error() string { return string(e) }

// Term is the reason as Erlang prints it (~p).
func (e Error) Term() string { return fmt.Sprintf("<<%q>>", string(e)) }

// EMQX's reasons.
const (
	ErrExists         Error = "Username Already Exist"
	ErrNotFound       Error = "Username Not Found"
	ErrLogin          Error = "Username/Password error"
	ErrCannotDelete   Error = "Cannot delete admin"
	ErrPasswordLength Error = "The password length: 8-64"
	ErrPasswordASCII  Error = "only ascii characters are allowed in the password"
	ErrPasswordWeak   Error = "The password must contain at least two different kind of characters from groups of letters, numbers, and special characters. For example, if password is composed from letters, it must contain at least one number or a special character."
	errIDLength       Error = "0 < Length =< 256"
	errIDChars        Error = "required: ^[A-Za-z0-9]+[A-Za-z0-9-_]*$"
)

// DefaultTags are the default user's tags.
const DefaultTags = "administrator"

const (
	defaultPassword = "public"
	letters         = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits          = "0123456789"
	specials        = "!@#$%^&*()_+-=[]{}\"|;':,./<>?`~ "
	saltLen         = 4
	hashLen         = saltLen + md5.Size
)

var saneID = regexp.MustCompile(`^[A-Za-z0-9]+[A-Za-z0-9-_]*$`)

// checkName is emqx_misc:is_sane_id/1.
func checkName(name string) error {
	if n := len([]rune(name)); n < 1 || n > 256 {
		return errIDLength
	}
	if !saneID.MatchString(name) {
		return errIDChars
	}
	return nil
}

// CheckPassword is EMQX's rule for a new password: 8 to 64 characters of
// at least two kinds (letters, digits, specials), ASCII only.
func CheckPassword(p string) error {
	if n := len([]rune(p)); n < 8 || n > 64 {
		return ErrPasswordLength
	}
	kinds := 0
	for _, set := range []string{letters, digits, specials} {
		if strings.ContainsAny(p, set) {
			kinds++
		}
	}
	if kinds < 2 {
		return ErrPasswordWeak
	}
	for _, r := range p {
		if r > 0x7f {
			return ErrPasswordASCII
		}
	}
	return nil
}

// Hash is a new salted hash of password.
func Hash(password string) []byte {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	return hashWith(salt, password)
}

func hashWith(salt []byte, password string) []byte {
	sum := md5.Sum(append(append([]byte{}, salt...), password...))
	return append(append(make([]byte, 0, hashLen), salt...), sum[:]...)
}

// matches tells whether hash is password's.
func matches(hash []byte, password string) bool {
	if len(hash) != hashLen {
		return false
	}
	return subtle.ConstantTimeCompare(hash, hashWith(hash[:saltLen], password)) == 1
}

// record is a user in the table.
type record struct {
	Password []byte `json:"password"` // salt and hash
	Tags     string `json:"tags"`
}

// User is one user as the dashboard lists it.
type User struct {
	Username string `json:"username"`
	Tags     string `json:"tags"`
}

// Store is the users over their table.
type Store struct {
	t Table
	// def is the default user's name ("" none); defHash its last password
	// hash seen here (EMQX keeps it in a persistent_term).
	def     string
	mu      sync.Mutex
	defHash []byte
}

// Open uses t and seeds the default user (login; "" none) with password
// ("" is EMQX's public).
func Open(t Table, login, password string) *Store {
	s := &Store{t: t, def: login}
	if login == "" {
		return s
	}
	t.OnChange(func(key string, v []byte, deleted bool) {
		if key != login || deleted {
			return
		}
		if r, ok := decode(v); ok {
			s.mu.Lock()
			s.defHash = r.Password
			s.mu.Unlock()
		}
	})
	if password == "" {
		password = defaultPassword
	}
	b, _ := json.Marshal(record{Password: Hash(password), Tags: DefaultTags})
	_, _ = t.Seed(login, b)
	if r, ok := s.get(login); ok {
		s.mu.Lock()
		s.defHash = r.Password
		s.mu.Unlock()
	}
	return s
}

func decode(v []byte) (record, bool) {
	var r record
	return r, json.Unmarshal(v, &r) == nil
}

func (s *Store) get(name string) (record, bool) {
	v, ok := s.t.Get(name)
	if !ok {
		return record{}, false
	}
	return decode(v)
}

// lookup is emqx_dashboard_admin:lookup_user/1: the default user comes
// back, with its last password, when it is not there.
func (s *Store) lookup(name string) (record, bool) {
	r, ok := s.get(name)
	if ok || name == "" || name != s.def {
		return r, ok
	}
	s.mu.Lock()
	h := s.defHash
	s.mu.Unlock()
	if h == nil {
		h = Hash(defaultPassword)
	}
	r = record{Password: h, Tags: DefaultTags}
	if err := s.put(name, r); err != nil {
		return record{}, false
	}
	return r, true
}

func (s *Store) put(name string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.t.Put(name, b)
}

// Check tells whether password is user's (emqx_dashboard_admin:check/2;
// EMQX's two-second penalty for a wrong one is the caller's).
func (s *Store) Check(user, password string) bool {
	r, ok := s.lookup(user)
	return ok && matches(r.Password, password)
}

// List is every user, by name.
func (s *Store) List() []User {
	var out []User
	s.t.Range(func(name string, v []byte) bool {
		if r, ok := decode(v); ok {
			out = append(out, User{Username: name, Tags: r.Tags})
		}
		return true
	})
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	return out
}

// Add adds a user (ErrExists, or the reason the name or the password is
// refused).
func (s *Store) Add(user, password, tags string) error {
	if err := checkName(user); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	if _, ok := s.get(user); ok {
		return ErrExists
	}
	return s.put(user, record{Password: Hash(password), Tags: tags})
}

// ChangePassword sets user's password (ErrNotFound, or why the password
// is refused).
func (s *Store) ChangePassword(user, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	r, ok := s.lookup(user)
	if !ok {
		return ErrNotFound
	}
	r.Password = Hash(password)
	return s.put(user, r)
}

// ChangePasswordFrom sets user's password if old is the current one
// (ErrLogin when it is not).
func (s *Store) ChangePasswordFrom(user, old, password string) error {
	if !s.Check(user, old) {
		return ErrLogin
	}
	return s.ChangePassword(user, password)
}

// UpdateTags sets user's tags (ErrNotFound).
func (s *Store) UpdateTags(user, tags string) error {
	r, ok := s.get(user)
	if !ok {
		return ErrNotFound
	}
	r.Tags = tags
	return s.put(user, r)
}

// Remove deletes user (emqx_dashboard_admin:remove_user/1, emqx_ctl
// admins del; ErrNotFound).
func (s *Store) Remove(user string) error {
	if _, ok := s.lookup(user); !ok {
		return ErrNotFound
	}
	s.t.Delete(user)
	return nil
}

// Delete is the dashboard's delete: admin cannot be deleted
// (ErrCannotDelete), another user is removed.
func (s *Store) Delete(user string) error {
	if user == "admin" {
		return ErrCannotDelete
	}
	return s.Remove(user)
}
