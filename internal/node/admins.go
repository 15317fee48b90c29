package node

import (
	"errors"

	"emqxgo/internal/admins"
	"emqxgo/internal/config"
	"emqxgo/internal/fabric"
)

// The dashboard's users (emqx_dashboard_admin): emqx_ctl admins here; the
// dashboard uses Admins().

// openAdmins opens the users' table and seeds the default user.
func (n *Node) openAdmins(fb *fabric.Fabric) {
	d := n.cfg.Dashboard
	n.admins = admins.Open(fb.Table(admins.TableName, fabric.TableOptions{Persist: true}), d.DefaultUserLogin, d.DefaultUserPassword)
	if d.DefaultUserLogin != "" && n.admins.Check(d.DefaultUserLogin, config.DefaultUserPassword) {
		n.log.Warn("[Dashboard] Using default password for dashboard '" + d.DefaultUserLogin + "' user. " +
			"Please use './bin/emqx_ctl admins' command to change it. " +
			"NOTE: the default password in config file is only used to initialise the database record, " +
			"changing the config file after database is initialised has no effect.")
	}
}

// Admins is the dashboard's users.
func (n *Node) Admins() *admins.Store { return n.admins }

// adminsStatus is a result as emqx_ctl prints it (~p): ok, or
// {error,<<"...">>}.
func adminsStatus(err error) string {
	if err == nil {
		return "ok\n"
	}
	return "{error," + adminsTerm(err) + "}\n"
}

func adminsTerm(err error) string {
	var e admins.Error
	if errors.As(err, &e) {
		return e.Term()
	}
	return err.Error()
}

// adminsCmd is emqx_dashboard_cli's admins command.
func (n *Node) adminsCmd(c *call) string {
	s := n.admins
	a := c.args
	switch {
	case (len(a) == 3 || len(a) == 4) && a[0] == "add":
		tags := ""
		if len(a) == 4 {
			tags = a[3]
		}
		if err := s.Add(a[1], a[2], tags); err != nil {
			return "Error: " + adminsTerm(err) + "\n"
		}
		return "ok\n"
	case len(a) == 3 && a[0] == "passwd":
		return adminsStatus(s.ChangePassword(a[1], a[2]))
	case len(a) == 2 && a[0] == "del":
		return adminsStatus(s.Remove(a[1]))
	}
	return usage(adminsUsage...)
}

var adminsUsage = []usageLine{
	{"admins add <Username> <Password> <Tags>", "Add dashboard user"},
	{"admins passwd <Username> <Password>", "Reset dashboard user password"},
	{"admins del <Username>", "Delete dashboard user"},
}

func init() {
	registerCmd(ctlCommand{name: "admins", run: func(n *Node, c *call) string { return n.adminsCmd(c) }, usage: adminsUsage})
}
