package node

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"go.uber.org/zap"

	"emqxgo/internal/access"
	"emqxgo/internal/access/acl"
	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/access/authjwt"
	"emqxgo/internal/access/authmnesia"
	"emqxgo/internal/access/guard"
	"emqxgo/internal/broker"
	"emqxgo/internal/config"
	"emqxgo/internal/fabric"
	"emqxgo/internal/plugins"
)

// accessParts are the node's gate and what feeds it.
type accessParts struct {
	file    *acl.File
	guard   *guard.Guard
	db      *authmnesia.DB
	plugins *plugins.Manager
}

// guardSettings are the gate's settings from the configuration; zoneOf
// names a client's zone (the broker's Zone), whose allow_anonymous,
// acl_nomatch, acl_deny_action, enable_acl, bypass_auth_plugins and
// use_username_as_clientid the gate then follows.
func guardSettings(cfg *config.Config, zoneOf func(*mqtt.Client) *config.Zone) guard.Settings {
	a := cfg.Access
	s := guard.Settings{
		AllowAnonymous: a.AllowAnonymous, ACLNomatch: access.Allow, ACLDisconnect: a.ACLDenyAction == "disconnect",
		ACLCache: a.EnableACLCache, ACLCacheMaxSize: a.ACLCacheMaxSize, ACLCacheTTL: a.ACLCacheTTL,
		AuthOrder: a.AuthOrder, ACLOrder: a.ACLOrder, CertAs: map[string]guard.CertAs{},
		ReservedIDPrefix: broker.ReservedClientIDPrefix,
	}
	if zoneOf != nil {
		s.ZoneOf = guard.ZoneLookup(cfg.Zones, zoneOf)
	}
	if a.ACLNomatch == "deny" {
		s.ACLNomatch = access.Deny
	}
	for _, l := range cfg.Listeners.List {
		if l.PeerCertAsUsername != "" || l.PeerCertAsClientID != "" {
			s.CertAs[l.ID()] = guard.CertAs{Username: l.PeerCertAsUsername, ClientID: l.PeerCertAsClientID}
		}
	}
	return s
}

// newGate loads acl_file and adds the gate to the broker; it must come
// before the cluster's hook (a denied PUBLISH is not forwarded).
func (n *Node) newGate() error {
	f := &acl.File{}
	switch err := f.Load(n.cfg.Access.ACLFile); {
	case errors.Is(err, fs.ErrNotExist):
		// As EMQX: no rules (acl_nomatch decides), and said loudly.
		n.log.Error("acl_file not found: no ACL rules are in force; acl_nomatch decides every check",
			zap.String("acl_file", n.cfg.Access.ACLFile), zap.String("acl_nomatch", n.cfg.Access.ACLNomatch))
	case err != nil:
		return fmt.Errorf("acl_file: %w", err)
	}
	set := guardSettings(n.cfg, n.broker.Zone)
	set.Unmount = n.broker.Unmount // zone.<name>.mountpoint: the ACL sees the client's topic
	if n.bans != nil {
		set.BeforeAuth = n.bans.Refuse
		n.bans.CheckInGate()
	}
	g := guard.New(n.broker.Server(), set, f, n.log)
	if err := n.broker.Server().AddHook(g, nil); err != nil {
		return err
	}
	n.broker.SetSubscribeCheck(g.CheckSubscribe)
	n.access = accessParts{file: f, guard: g}
	return nil
}

// newPlugins opens the built-in database's tables and the plugin manager
// (after the fabric exists).
func (n *Node) newPlugins(fb *fabric.Fabric) {
	users := fb.Table(authmnesia.UserTable, fabric.TableOptions{Persist: true})
	acls := fb.Table(authmnesia.ACLTable, fabric.TableOptions{Persist: true})
	n.access.db = authmnesia.Open(users, acls)
	kinds := []plugins.Kind{
		{Name: authhttp.Name, Description: "EMQX Authentication/ACL with HTTP API", Start: n.startHTTP},
		{Name: authjwt.Name, Description: "EMQX Authentication with JWT", Start: n.startJWT},
		{Name: authmnesia.Name, Description: authmnesia.Description, Start: n.startMnesia},
	}
	n.access.plugins = plugins.New(n.cfg.Node.DataDir, kinds, n.access.guard.SetPlugins, n.log)
}

// pluginConfig is the configuration a plugin starts with: read again from
// the files when the node was started from them (plugins reload takes
// edits), else the one the node was given.
func (n *Node) pluginConfig() (*config.Config, error) {
	if n.reloadConfig == nil {
		return n.cfg, nil
	}
	return n.reloadConfig()
}

type httpPlugin struct{ p *authhttp.Plugin }

func (h httpPlugin) Auth() access.Authenticator {
	if h.p.Authenticates() {
		return h.p
	}
	return nil
}

func (h httpPlugin) ACL() access.ACLChecker {
	if h.p.ChecksACL() {
		return h.p
	}
	return nil
}

func (h httpPlugin) Stop() { _ = h.p.Close() }

func (n *Node) startHTTP() (plugins.Instance, error) {
	cfg, err := n.pluginConfig()
	if err != nil {
		return nil, err
	}
	p, err := authhttp.New(cfg.Plugins.HTTP, n.log)
	if err != nil {
		return nil, err
	}
	return httpPlugin{p}, nil
}

type jwtPlugin struct{ p *authjwt.Plugin }

func (j jwtPlugin) Auth() access.Authenticator { return j.p }
func (j jwtPlugin) ACL() access.ACLChecker     { return j.p }
func (j jwtPlugin) Stop()                      { j.p.Stop() }

func (n *Node) startJWT() (plugins.Instance, error) {
	cfg, err := n.pluginConfig()
	if err != nil {
		return nil, err
	}
	p := authjwt.New(cfg.Plugins.JWT, n.log)
	p.Start()
	return jwtPlugin{p}, nil
}

type mnesiaPlugin struct{ p *authmnesia.Plugin }

func (m mnesiaPlugin) Auth() access.Authenticator { return m.p }
func (m mnesiaPlugin) ACL() access.ACLChecker     { return m.p }
func (m mnesiaPlugin) Stop()                      {}

func (n *Node) startMnesia() (plugins.Instance, error) {
	cfg, err := n.pluginConfig()
	if err != nil {
		return nil, err
	}
	mc := cfg.Plugins.Mnesia
	db := n.access.db
	for _, s := range []struct {
		kind authmnesia.Kind
		list []config.Credential
		ctl  string
	}{{authmnesia.Username, mc.Users, "user"}, {authmnesia.ClientID, mc.ClientIDs, "clientid"}} {
		for _, c := range s.list {
			kept, err := db.Seed(s.kind, c.ID, c.Password, mc.PasswordHash)
			if err != nil {
				n.log.Error("cannot add a configured login to the built-in database", zap.String(string(s.kind), c.ID), zap.Error(err))
			}
			if kept {
				n.log.Warn("a configured login has another password in the built-in database; it is kept (change it with emqx_ctl "+s.ctl+" update)",
					zap.String(string(s.kind), c.ID))
			}
		}
	}
	return mnesiaPlugin{authmnesia.New(db, mc.PasswordHash)}, nil
}

// bootPlugins loads the plugins of data/loaded_plugins and
// EMQX_LOADED_PLUGINS; it runs before MQTT clients are accepted.
func (n *Node) bootPlugins() {
	start := time.Now()
	n.access.plugins.Boot(n.cfg.LoadedPlugins)
	n.log.Debug("plugins booted", zap.Duration("took", time.Since(start)))
}
