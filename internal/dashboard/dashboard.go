// Package dashboard is the server side of the web console each node
// serves on dashboard.listener.http (18083; EMQX 4.4's emqx_dashboard):
// the front end's files (assets/: index.html at "/", the rest under
// "/static/"), and who may use the API behind it.
//
// The console reads and changes the cluster only through the management
// API's operations under /api/v4, served on this listener too (the node
// mounts the same route table). They are authorized by a dashboard user
// (internal/admins, emqx_ctl admins): HTTP basic authentication, as
// EMQX 4.4's dashboard, or a login session:
//
//   - POST /api/v4/auth/login {"username","password"} answers
//     {"code":0,"data":{"username","default_password"}} and sets the
//     cookie emqx_dashboard_session (HttpOnly, SameSite=Strict, Path=/,
//     Secure over https): a random 32-byte token naming a session this
//     node keeps (sessions are per node), ended after 2 h unused, at most
//     1024 (the least recently used goes first). Wrong credentials:
//     {"code":103,"message":"Username or password error"}.
//   - POST /api/v4/auth/logout ends it; GET /api/v4/auth/me is the
//     session's user and whether its password is still "public".
//
// A request authorized by the cookie that is not GET, HEAD or OPTIONS
// must carry X-Requested-With: XMLHttpRequest (a header another site's
// page cannot add without the browser asking this node first), else 403.
// Failed logins and failed basic authentications count against the
// remote address: 10 a minute, then 429 until the allowance refills. No
// answer asks for basic credentials (WWW-Authenticate), so a browser
// never keeps them.
package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/admins"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/ratelog"
)

// CookieName is the session cookie.
const CookieName = "emqx_dashboard_session"

// Limits of the sessions and the login attempts.
const (
	SessionIdle   = 2 * time.Hour
	MaxSessions   = 1024
	LoginFailures = 10 // a minute, per remote address
	loginWindow   = time.Minute
	maxAddresses  = 4096
	maxLoginBody  = 64 << 10
)

// defaultPassword is the stock password of the default user.
const defaultPassword = "public"

// Dashboard is one node's console: its users' sessions and files.
type Dashboard struct {
	users    *admins.Store
	sessions *sessions
	failures *limiter
	files    assets
	log      *zap.Logger
	logged   *ratelog.Limiter
}

// New makes the console of the users' store.
func New(users *admins.Store, log *zap.Logger) *Dashboard {
	return &Dashboard{users: users, sessions: newSessions(SessionIdle, MaxSessions),
		failures: newLimiter(LoginFailures, loginWindow, maxAddresses), files: builtIn,
		log: log, logged: ratelog.New(time.Minute)}
}

// Mount adds the login routes and the files to s (whose Authorize is
// d.Authorize).
func (d *Dashboard) Mount(s *mgmt.Server) {
	s.HandleHTTP("POST /auth", http.HandlerFunc(d.check), mgmt.NoAuth)
	s.HandleHTTP("POST /auth/login", http.HandlerFunc(d.login), mgmt.NoAuth)
	s.HandleHTTP("POST /auth/logout", http.HandlerFunc(d.logout), mgmt.NoAuth)
	s.HandleHTTP("GET /auth/me", http.HandlerFunc(d.me), mgmt.NoAuth)
	s.Mount("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.files.serve(w, r, "index.html")
	}))
	s.Mount("GET /static/{file...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.files.serve(w, r, r.PathValue("file"))
	}))
}

// Authorize is the listener's check (mgmt.Config.Authorize): a dashboard
// user's basic credentials or session cookie; it answers a refusal itself.
func (d *Dashboard) Authorize(w http.ResponseWriter, r *http.Request) bool {
	_, ok := d.authenticate(w, r)
	return ok
}

// DropSessions ends user's sessions on this node (a password changed, a
// user deleted), all but the one r is authorized by.
func (d *Dashboard) DropSessions(user string, r *http.Request) {
	keep := ""
	if r != nil {
		if c, err := r.Cookie(CookieName); err == nil {
			keep = c.Value
		}
	}
	d.sessions.dropUser(user, keep)
}

// authenticate is the user r is authorized as; when none, it has answered.
func (d *Dashboard) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if u, p, has := r.BasicAuth(); has {
		key := clientKey(r)
		if wait := d.failures.wait(key); wait > 0 {
			tooMany(w, wait)
			return "", false
		}
		if !d.users.Check(u, p) {
			d.failed(key, u, "basic")
			unauthorized(w)
			return "", false
		}
		return u, true
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if u, ok := d.sessions.get(c.Value); ok {
			if !d.exists(u) { // deleted since
				d.sessions.drop(c.Value)
				unauthorized(w)
				return "", false
			}
			if !safe(r.Method) && r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
				forbidden(w)
				return "", false
			}
			return u, true
		}
	}
	unauthorized(w)
	return "", false
}

func (d *Dashboard) exists(user string) bool {
	for _, u := range d.users.List() {
		if u.Username == user {
			return true
		}
	}
	return false
}

func (d *Dashboard) failed(key, user, how string) {
	d.failures.fail(key)
	if d.logged.First("failed") {
		d.log.Warn("[Dashboard] authentication failure (logged once a minute)",
			zap.String("username", user), zap.String("address", key), zap.String("by", how))
	}
}

func safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// Me is a user as login and /auth/me answer it.
type Me struct {
	Username string `json:"username"`
	// DefaultPassword: the password is still the stock "public".
	DefaultPassword bool `json:"default_password"`
}

func (d *Dashboard) meOf(user string) Me {
	return Me{Username: user, DefaultPassword: d.users.Check(user, defaultPassword)}
}

// credentials are the username and password of a login's body; false:
// answered already (refused address, body too large or not JSON).
func (d *Dashboard) credentials(w http.ResponseWriter, r *http.Request) (user, password *string, ok bool) {
	if wait := d.failures.wait(clientKey(r)); wait > 0 {
		tooMany(w, wait)
		return nil, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, nil, false
	}
	var p struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if json.Unmarshal(body, &p) != nil {
		mgmt.Write(w, nil, mgmt.Errorf(mgmt.CodeNotJSON, "Request parameter is not a json"))
		return nil, nil, false
	}
	return p.Username, p.Password, true
}

// check is EMQX's POST /api/v4/auth (emqx_dashboard_admin:check/2):
// {"code":0} for a user's right password, else minirest's
// {"message":...}; no session.
func (d *Dashboard) check(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := d.credentials(w, r)
	if !ok {
		return
	}
	msg := ""
	switch {
	case user == nil:
		msg = "Username undefined"
	case pass == nil:
		msg = "Password undefined"
	case !d.users.Check(*user, *pass):
		d.failed(clientKey(r), *user, "auth")
		msg = string(admins.ErrLogin)
	}
	if msg != "" {
		mgmt.Write(w, mgmt.Raw{ContentType: "application/json", Body: messageBody(msg)}, nil)
		return
	}
	mgmt.Write(w, nil, nil)
}

func messageBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"message": msg})
	return b
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	key := clientKey(r)
	up, pp, ok := d.credentials(w, r)
	if !ok {
		return
	}
	var p struct{ Username, Password string }
	if up != nil {
		p.Username = *up
	}
	if pp != nil {
		p.Password = *pp
	}
	if p.Username == "" || p.Password == "" {
		mgmt.Write(w, nil, mgmt.Errorf(mgmt.CodeLogin, "Username or password error"))
		return
	}
	if !d.users.Check(p.Username, p.Password) {
		d.failed(key, p.Username, "login")
		mgmt.Write(w, nil, mgmt.Errorf(mgmt.CodeLogin, "Username or password error"))
		return
	}
	if c, err := r.Cookie(CookieName); err == nil {
		d.sessions.drop(c.Value) // the session this browser had: replaced
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: d.sessions.create(p.Username), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	d.log.Info("[Dashboard] login", zap.String("username", p.Username), zap.String("address", key))
	mgmt.Write(w, d.meOf(p.Username), nil)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if _, ok := d.sessions.get(c.Value); ok && r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
			forbidden(w)
			return
		}
		d.sessions.drop(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	mgmt.Write(w, nil, nil)
}

func (d *Dashboard) me(w http.ResponseWriter, r *http.Request) {
	u, ok := d.authenticate(w, r)
	if !ok {
		return
	}
	mgmt.Write(w, d.meOf(u), nil)
}

// unauthorized is minirest's 401, without its WWW-Authenticate.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, "UNAUTHORIZED")
}

func forbidden(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, "FORBIDDEN: a request with the session cookie that changes state needs the header X-Requested-With: XMLHttpRequest")
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	s := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(s))
	mgmt.Write(w, nil, &mgmt.Error{Code: mgmt.CodeLogin, Status: http.StatusTooManyRequests,
		Message: fmt.Sprintf("Too many failed logins from this address; try again in %d s", s)})
}
