package node

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"emqxgo/internal/admins"
	"emqxgo/internal/dashboard"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/tlsfiles"
)

// The dashboard (emqx_dashboard) on dashboard.listener.http and .https:
// the front end's files, and every route of the management API (the one
// table, apiRoutes) authorized by a dashboard user instead of an
// application (internal/dashboard); besides, the routes EMQX 4.4 serves
// only there: its users (/users, /change_pwd) and POST /auth.

// newDashboard builds the dashboard's listener (started by Start), before
// anything that would have to be undone: its users come with
// openDashboard.
func (n *Node) newDashboard() error {
	d := n.cfg.Dashboard
	tc, err := httpsConfig("dashboard.listener.https", d.HTTPS, d.HTTPSCertFile, d.HTTPSKeyFile, d.HTTPSCACertFile,
		d.HTTPSVerify, d.HTTPSFailIfNoPeerCert)
	if err != nil {
		return err
	}
	n.dash = mgmt.New(mgmt.Config{Name: "dashboard", HTTP: d.HTTP, HTTPS: d.HTTPS, TLS: tc, MaxClients: d.MaxClients,
		MaxRowLimit: n.cfg.Management.MaxRowLimit,
		Authorize:   func(w http.ResponseWriter, r *http.Request) bool { return n.console.Authorize(w, r) }}, n.log)
	for _, r := range apiRoutes {
		h := r.h
		n.dash.Handle(r.pattern, func(req *mgmt.Request) (any, error) { return h(n, req) }, r.opts...)
	}
	return nil
}

// openDashboard adds the dashboard's users (after openAdmins).
func (n *Node) openDashboard() {
	n.console = dashboard.New(n.admins, n.log)
	n.console.Mount(n.dash)
	n.dashboardUsersAPI()
}

// httpsConfig is an https listener's TLS configuration (nil when the
// listener is off).
func httpsConfig(key, addr, certfile, keyfile, cacertfile string, verify, failIfNoPeerCert bool) (*tls.Config, error) {
	if addr == "" {
		return nil, nil
	}
	if certfile == "" || keyfile == "" {
		return nil, fmt.Errorf("%s needs %s.certfile and .keyfile", key, key)
	}
	cert, err := tls.LoadX509KeyPair(certfile, keyfile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cacertfile != "" {
		pool, err := tlsfiles.LoadCAPool(cacertfile, nil)
		if err != nil {
			return nil, fmt.Errorf("%s.cacertfile: %w", key, err)
		}
		tc.ClientCAs = pool
	}
	switch {
	case verify && failIfNoPeerCert:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	case verify:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// startDashboard binds the dashboard's listeners; one that cannot bind
// is logged as an error and the node runs without its dashboard.
func (n *Node) startDashboard() {
	d := n.cfg.Dashboard
	if err := n.dash.Start(); err != nil {
		n.log.Error("dashboard not started", zap.String("http", d.HTTP), zap.String("https", d.HTTPS), zap.Error(err))
		return
	}
	if a := n.dash.Addrs(); len(a) > 0 {
		n.log.Info("dashboard listening", zap.Any("listeners", a))
	}
}

// DashboardAddrs are the bound dashboard listeners ("http", "https" ->
// host:port).
func (n *Node) DashboardAddrs() map[string]string { return n.dash.Addrs() }

// dashboardUsersAPI is emqx_dashboard_api: the dashboard's users, served
// on the dashboard's listener only (EMQX's management listener leaves
// emqx_dashboard out). A failure is minirest's {"message":...}.
func (n *Node) dashboardUsersAPI() {
	s, users := n.dash, n.admins
	result := func(err error) (any, error) {
		var e admins.Error
		switch {
		case err == nil:
			return nil, nil
		case errors.As(err, &e):
			return messageOnly(string(e)), nil
		}
		return messageOnly(err.Error()), nil
	}
	// params are the body's fields (minirest: a body that is not a JSON
	// object is 400).
	params := func(r *mgmt.Request) (map[string]any, bool) {
		var p map[string]any
		if len(r.Body) > 0 && json.Unmarshal(r.Body, &p) != nil {
			return nil, false
		}
		return p, true
	}
	str := func(p map[string]any, k string) string {
		v, _ := p[k].(string)
		return v
	}
	s.Handle("GET /users", func(*mgmt.Request) (any, error) {
		l := users.List()
		if l == nil {
			l = []admins.User{}
		}
		return l, nil
	})
	s.Handle("POST /users", func(r *mgmt.Request) (any, error) {
		p, ok := params(r)
		if !ok {
			return badRequest, nil
		}
		user, pass := str(p, "username"), str(p, "password")
		if user == "" || pass == "" {
			return messageOnly("Username or password undefined"), nil
		}
		return result(users.Add(user, pass, str(p, "tags")))
	})
	s.Handle("PUT /users/{name}", func(r *mgmt.Request) (any, error) {
		p, ok := params(r)
		if !ok {
			return badRequest, nil
		}
		return result(users.UpdateTags(r.Path("name"), str(p, "tags")))
	})
	s.Handle("DELETE /users/{name}", func(r *mgmt.Request) (any, error) {
		name := r.Path("name")
		if err := users.Delete(name); err != nil {
			return result(err)
		}
		n.console.DropSessions(name, nil)
		return nil, nil
	})
	s.Handle("PUT /change_pwd/{username}", func(r *mgmt.Request) (any, error) {
		p, ok := params(r)
		if !ok {
			return badRequest, nil
		}
		name := r.Path("username")
		if err := users.ChangePasswordFrom(name, str(p, "old_pwd"), str(p, "new_pwd")); err != nil {
			return result(err)
		}
		n.console.DropSessions(name, r.R) // its other sessions here; this one stays
		return nil, nil
	})
}
