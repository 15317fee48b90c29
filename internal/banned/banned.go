package banned

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// TableName is the replicated table of the banned list (EMQX's name).
const TableName = "emqx_banned"

// DefaultDuration is how long an entry added without Until applies (as
// EMQX's REST API: 5 minutes).
const DefaultDuration = 5 * time.Minute

// Who is what an entry names.
type Who string

const (
	ClientID Who = "clientid"
	Username Who = "username"
	PeerHost Who = "peerhost"
)

// Errors of Add and Delete.
var (
	ErrWho   = errors.New("who must be clientid, username or peerhost")
	ErrValue = errors.New("invalid value")
	ErrUntil = errors.New("until must be after at")
)

// Entry is one ban.
type Entry struct {
	Who    Who
	Value  string // the client id, user name or peer host (IP address)
	Reason string
	By     string
	At     time.Time
	Until  time.Time // the ban applies while now < Until
}

// Table is the replicated table the list lives in (fabric.Table).
type Table interface {
	Put(key string, value []byte) error
	Delete(key string)
	Get(key string) ([]byte, bool)
	Range(fn func(key string, value []byte) bool)
}

// record is an entry's table value; who and value are in its key.
type record struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
	At     int64  `json:"at"`    // unix ms
	Until  int64  `json:"until"` // unix ms
}

func key(w Who, value string) string { return string(w) + ":" + value }

// Expired reports whether a table value has run out at now (for
// fabric.TableOptions.Expired). A value that cannot be read is expired.
func Expired(value []byte, now time.Time) bool {
	var r record
	if json.Unmarshal(value, &r) != nil {
		return true
	}
	return now.UnixMilli() >= r.Until
}

// List is the banned list over its table. Safe for concurrent use.
type List struct {
	t   Table
	now func() time.Time
}

// Open returns the list kept in t.
func Open(t Table) *List { return &List{t: t, now: time.Now} }

// canonical checks who and returns the value as the list keys it (a peer
// host's address in its canonical form, IPv4-mapped IPv6 as IPv4).
func canonical(w Who, value string) (string, error) {
	switch w {
	case ClientID, Username:
		if value == "" {
			return "", fmt.Errorf("%w: empty %s", ErrValue, w)
		}
		return value, nil
	case PeerHost:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", fmt.Errorf("%w: peerhost %q is not an IP address", ErrValue, value)
		}
		return a.Unmap().WithZone("").String(), nil
	}
	return "", fmt.Errorf("%w: %q", ErrWho, w)
}

// Add bans e.Who = e.Value cluster-wide, replacing an entry for the same
// one. A zero At is now; a zero Until is At + DefaultDuration. It returns
// the entry as stored.
func (l *List) Add(e Entry) (Entry, error) {
	v, err := canonical(e.Who, e.Value)
	if err != nil {
		return Entry{}, err
	}
	e.Value = v
	if e.At.IsZero() {
		e.At = l.now()
	}
	if e.Until.IsZero() {
		e.Until = e.At.Add(DefaultDuration)
	}
	if !e.Until.After(e.At) {
		return Entry{}, ErrUntil
	}
	e.At, e.Until = time.UnixMilli(e.At.UnixMilli()), time.UnixMilli(e.Until.UnixMilli())
	b, _ := json.Marshal(record{Reason: e.Reason, By: e.By, At: e.At.UnixMilli(), Until: e.Until.UnixMilli()})
	if err := l.t.Put(key(e.Who, e.Value), b); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Delete lifts the ban of who = value cluster-wide (nothing if there is none).
func (l *List) Delete(w Who, value string) error {
	v, err := canonical(w, value)
	if err != nil {
		return err
	}
	l.t.Delete(key(w, v))
	return nil
}

// get returns the entry of who = value if it applies now.
func (l *List) get(w Who, value string, now time.Time) (Entry, bool) {
	b, ok := l.t.Get(key(w, value))
	if !ok {
		return Entry{}, false
	}
	e, ok := decode(w, value, b)
	return e, ok && now.Before(e.Until)
}

func decode(w Who, value string, b []byte) (Entry, bool) {
	var r record
	if json.Unmarshal(b, &r) != nil {
		return Entry{}, false
	}
	return Entry{Who: w, Value: value, Reason: r.Reason, By: r.By, At: time.UnixMilli(r.At), Until: time.UnixMilli(r.Until)}, true
}

// List returns the entries that apply now, oldest first (then by who and
// value).
func (l *List) List() []Entry {
	now := l.now()
	var out []Entry
	l.t.Range(func(k string, b []byte) bool {
		w, v, ok := strings.Cut(k, ":")
		if !ok {
			return true
		}
		if e, ok := decode(Who(w), v, b); ok && now.Before(e.Until) {
			out = append(out, e)
		}
		return true
	})
	slices.SortFunc(out, func(a, b Entry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Who), string(b.Who)); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

// Check returns the ban that applies now to a client with this client id,
// user name ("": none) and peer address (invalid: none), checked in that
// order.
func (l *List) Check(clientID, username string, peer netip.Addr) (Entry, bool) {
	now := l.now()
	if clientID != "" {
		if e, ok := l.get(ClientID, clientID, now); ok {
			return e, true
		}
	}
	if username != "" {
		if e, ok := l.get(Username, username, now); ok {
			return e, true
		}
	}
	if peer.IsValid() {
		if e, ok := l.get(PeerHost, peer.Unmap().WithZone("").String(), now); ok {
			return e, true
		}
	}
	return Entry{}, false
}
