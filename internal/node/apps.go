package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"emqxgo/internal/fabric"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/mgmtapps"
)

// The HTTP API's applications (emqx_mgmt_auth): emqx_ctl mgmt, the
// /apps routes (emqx_mgmt_api_apps), and the API's authentication. The
// table is cluster-wide: every node reads and writes its own copy.

// openApps opens the applications' table, seeds the default application
// and makes the API authenticate with the table.
func (n *Node) openApps(fb *fabric.Fabric) {
	n.mgmtApps = mgmtapps.Open(fb.Table(mgmtapps.TableName, fabric.TableOptions{Persist: true}))
	m := n.cfg.Management
	if err := n.mgmtApps.SeedDefault(m.DefaultAppID, m.DefaultAppSecret); err != nil {
		n.log.Error("cannot add the default application", zap.String("app_id", m.DefaultAppID), zap.Error(err))
	}
	n.apps = n.mgmtApps.Authorized
}

// Apps is the HTTP API's applications.
func (n *Node) Apps() *mgmtapps.Store { return n.mgmtApps }

// appView is an application as EMQX shows it: expired "undefined" when
// it has no end.
type appView struct {
	ID      string  `json:"app_id"`
	Secret  *string `json:"secret,omitempty"`
	Name    string  `json:"name"`
	Desc    string  `json:"desc"`
	Status  bool    `json:"status"`
	Expired any     `json:"expired"`
}

func viewApp(a mgmtapps.App, secret bool) appView {
	v := appView{ID: a.ID, Name: a.Name, Desc: a.Desc, Status: a.Status, Expired: "undefined"}
	if secret {
		v.Secret = &a.Secret
	}
	if a.Expired != nil {
		v.Expired = *a.Expired
	}
	return v
}

// appLine is print_app_info's line.
func appLine(a mgmtapps.App) string {
	exp := "undefined"
	if a.Expired != nil {
		exp = strconv.FormatInt(*a.Expired, 10)
	}
	return fmt.Sprintf("app_id: %s, secret: %s, name: %s, desc: %s, status: %t, expired: %s\n",
		a.ID, a.Secret, a.Name, a.Desc, a.Status, exp)
}

// appErrTerm is an add's failure as emqx_ctl prints it (~p).
func appErrTerm(err error) string {
	var ie *mgmtapps.IDError
	if errors.As(err, &ie) {
		return fmt.Sprintf("<<%q>>", ie.Msg)
	}
	return err.Error()
}

// mgmtCmd is emqx_mgmt_cli's mgmt command.
func (n *Node) mgmtCmd(c *call) string {
	s := n.mgmtApps
	a := c.args
	switch {
	case len(a) == 1 && a[0] == "list":
		apps := s.List()
		views := make([]appView, 0, len(apps))
		for _, app := range apps {
			views = append(views, viewApp(app, true))
		}
		return c.out(views, func() string {
			var b strings.Builder
			for _, app := range apps {
				b.WriteString(appLine(app))
			}
			return b.String()
		})
	case len(a) == 3 && a[0] == "insert":
		secret, err := s.Add(mgmtapps.App{ID: a[1], Name: a[2], Desc: mgmtapps.DefaultDesc, Status: true})
		switch {
		case errors.Is(err, mgmtapps.ErrExisted):
			return "Error: already existed\n"
		case err != nil:
			return "Error: " + appErrTerm(err) + "\n"
		}
		return "AppSecret: " + secret + "\n"
	case len(a) == 2 && a[0] == "lookup":
		app, ok := s.Lookup(a[1])
		if !ok {
			return "Not Found.\n"
		}
		return c.out(viewApp(app, true), func() string { return appLine(app) })
	case len(a) == 3 && a[0] == "update" && (a[2] == "true" || a[2] == "false"):
		if err := s.SetStatus(a[1], a[2] == "true"); err != nil {
			return "Error: " + err.Error() + "\n"
		}
		return "update successfully.\n"
	case len(a) == 2 && a[0] == "delete":
		s.Delete(a[1])
		return "ok\n"
	}
	return usage(mgmtUsage...)
}

var mgmtUsage = []usageLine{
	{"mgmt list", "List Applications"},
	{"mgmt insert <AppId> <Name>", "Add Application of REST API"},
	{"mgmt update <AppId> <status>", "Update Application of REST API"},
	{"mgmt lookup <AppId>", "Get Application of REST API"},
	{"mgmt delete <AppId>", "Delete Application of REST API"},
}

// appMessage is minirest's {error, Reason}: a body with only a message.
func appMessage(msg string) mgmt.Raw {
	b, _ := json.Marshal(map[string]string{"message": msg})
	return mgmt.Raw{ContentType: "application/json", Body: b}
}

// appParams are the fields of POST and PUT /apps.
type appParams struct {
	ID      string          `json:"app_id"`
	Name    string          `json:"name"`
	Secret  string          `json:"secret"`
	Desc    string          `json:"desc"`
	Status  *bool           `json:"status"`
	Expired json.RawMessage `json:"expired"`
}

// expired is the end given: a number of unix seconds, or none (absent,
// null, "undefined", "").
func (p appParams) expired() (*int64, error) {
	s := strings.TrimSpace(string(p.Expired))
	switch s {
	case "", "null", `"undefined"`, `""`:
		return nil, nil
	}
	v, err := strconv.ParseInt(strings.Trim(s, `"`), 10, 64)
	if err != nil {
		return nil, mgmt.Errorf(mgmt.CodeParamType, "expired must be unix seconds")
	}
	return &v, nil
}

func init() {
	registerCmd(ctlCommand{name: "mgmt", run: func(n *Node, c *call) string { return n.mgmtCmd(c) }, usage: mgmtUsage})

	list := func(n *Node, _ *mgmt.Request) (any, error) {
		apps := n.mgmtApps.List()
		out := make([]appView, 0, len(apps))
		for _, a := range apps {
			out = append(out, viewApp(a, false))
		}
		return out, nil
	}
	add := func(n *Node, r *mgmt.Request) (any, error) {
		var p appParams
		if err := r.JSON(&p); err != nil {
			return nil, err
		}
		exp, err := p.expired()
		if err != nil {
			return nil, err
		}
		secret, err := n.mgmtApps.Add(mgmtapps.App{ID: p.ID, Name: p.Name, Secret: p.Secret, Desc: p.Desc,
			Status: p.Status != nil && *p.Status, Expired: exp})
		if err != nil {
			return appMessage(err.Error()), nil
		}
		return map[string]string{"secret": secret}, nil
	}
	registerAPI("GET /apps", list)
	registerAPI("GET /apps/{$}", list)
	registerAPI("POST /apps", add)
	registerAPI("POST /apps/{$}", add)
	registerAPI("GET /apps/{appid}", func(n *Node, r *mgmt.Request) (any, error) {
		a, ok := n.mgmtApps.Lookup(r.Path("appid"))
		if !ok {
			return struct{}{}, nil
		}
		return viewApp(a, true), nil
	})
	registerAPI("PUT /apps/{appid}", func(n *Node, r *mgmt.Request) (any, error) {
		id := r.Path("appid")
		cur, ok := n.mgmtApps.Lookup(id)
		if !ok {
			return appMessage(mgmtapps.ErrNotFound.Error()), nil
		}
		// What the body leaves out stays as it is.
		p := appParams{Name: cur.Name, Desc: cur.Desc, Status: &cur.Status}
		if cur.Expired != nil {
			p.Expired = json.RawMessage(strconv.FormatInt(*cur.Expired, 10))
		}
		if err := r.JSON(&p); err != nil {
			return nil, err
		}
		exp, err := p.expired()
		if err != nil {
			return nil, err
		}
		if err := n.mgmtApps.Update(id, p.Name, p.Desc, p.Status != nil && *p.Status, exp); err != nil {
			return appMessage(err.Error()), nil
		}
		return nil, nil
	})
	registerAPI("DELETE /apps/{appid}", func(n *Node, r *mgmt.Request) (any, error) {
		n.mgmtApps.Delete(r.Path("appid"))
		return nil, nil
	})
}
