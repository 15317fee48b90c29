package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/admins"
	"emqxgo/internal/config"
	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/logging"
	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// lines splits a command's output into its lines.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// matchLines checks out line by line against the regexps.
func matchLines(t *testing.T, what, out string, res ...string) {
	t.Helper()
	ls := lines(out)
	if len(ls) != len(res) {
		t.Fatalf("%s: %d lines, want %d:\n%s", what, len(ls), len(res), out)
	}
	for i, re := range res {
		if !regexp.MustCompile("^" + re + "$").MatchString(ls[i]) {
			t.Errorf("%s: line %d %q does not match %q", what, i+1, ls[i], re)
		}
	}
}

// usageRe is a usage line ("~-70s# ~s") as a regexp.
func usageRe(cmd, descr string) string {
	return regexp.QuoteMeta(fmt.Sprintf("%-70s# %s", cmd, descr))
}

// statRe is a vm line: prefix, the name padded to width, ": ", a value.
func statRe(prefix, name string, width int, value string) string {
	return regexp.QuoteMeta(fmt.Sprintf("%s%-*s: ", prefix, width, name)) + value
}

func TestCtlVM(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t)))
	num, load := `-?\d+`, `\d+\.\d\d`
	loadRes := []string{statRe("cpu/", "load1", 20, load), statRe("cpu/", "load5", 20, load), statRe("cpu/", "load15", 20, load)}
	var memRes []string
	for _, k := range []string{"total", "processes", "processes_used", "system", "atom", "atom_used", "binary", "code", "ets"} {
		memRes = append(memRes, statRe("memory/", k, 17, num))
	}
	procRes := []string{statRe("process/", "limit", 16, "2147483647"), statRe("process/", "count", 16, `[1-9]\d*`)}
	ioRes := []string{statRe("io/", "max_fds", 21, `[1-9]\d*`), statRe("io/", "active_fds", 21, `[1-9]\d*`)}
	portRes := []string{statRe("ports/", "count", 16, `[1-9]\d*`), statRe("ports/", "limit", 16, `[1-9]\d*`)}
	all := slices.Concat(loadRes, memRes, procRes, ioRes, portRes)
	matchLines(t, "vm", ctl(t, n, "vm"), all...)
	matchLines(t, "vm all", ctl(t, n, "vm all"), all...)
	matchLines(t, "vm load", ctl(t, n, "vm load"), loadRes...)
	matchLines(t, "vm memory", ctl(t, n, "vm memory"), memRes...)
	matchLines(t, "vm process", ctl(t, n, "vm process"), procRes...)
	matchLines(t, "vm io", ctl(t, n, "vm io"), ioRes...)
	matchLines(t, "vm ports", ctl(t, n, "vm ports"), portRes...)
	matchLines(t, "vm nosuch", ctl(t, n, "vm nosuch"), usageRe("vm all", "Show info of Erlang VM"),
		usageRe("vm load", "Show load of Erlang VM"), usageRe("vm memory", "Show memory of Erlang VM"),
		usageRe("vm process", "Show process of Erlang VM"), usageRe("vm io", "Show IO of Erlang VM"),
		usageRe("vm ports", "Show Ports of Erlang VM"))

	var mem map[string]int64
	if err := json.Unmarshal([]byte(ctl(t, n, "vm memory --json")), &mem); err != nil || mem["total"] <= 0 || mem["processes"] <= 0 || mem["total"] != mem["processes"]+mem["system"] {
		t.Fatalf("vm memory --json: %v %v", mem, err)
	}
	var whole map[string]map[string]any
	if err := json.Unmarshal([]byte(ctl(t, n, "vm --json")), &whole); err != nil || len(whole) != 5 || whole["load"]["load1"] == nil {
		t.Fatalf("vm --json: %v %v", whole, err)
	}
}

// TestCtlLog: on a node logging to a file, log set-level debug makes a
// debug entry get written at once; the primary level, the handlers' list,
// stop, start and set-level answer as EMQX's.
func TestCtlLog(t *testing.T) {
	name := fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t))
	host := strings.TrimPrefix(name, "emqx1@")
	tn := testnode.Prepare(t, name)
	cfg, err := config.Load(config.Options{Home: tn.Home, Env: []string{"EMQX_NODE_NAME=" + name,
		"EMQX_LISTENER__TCP__EXTERNAL=" + host + ":0", "EMQX_NODE_COOKIE=testnode-cookie",
		"EMQX_MANAGEMENT__LISTENER__HTTP=" + host + ":0", "EMQX_DASHBOARD__LISTENER__HTTP=" + host + ":0",
		"EMQX_LOG__LEVEL=warning"}})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := logging.New(cfg.Log, "file")
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	n, err := node.New(cfg, lg.Logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	}()
	run := func(words string) string {
		t.Helper()
		r := n.Handle(ctlrpc.Request{Op: ctlrpc.OpCommand, Args: strings.Fields(words)})
		if r.Error != "" {
			t.Fatalf("emqx_ctl %s: %s", words, r.Error)
		}
		return r.Output
	}
	file := lg.FilePath
	if file != filepath.Join(cfg.Log.Dir, cfg.Log.File) {
		t.Fatalf("log file %s", file)
	}
	handler := func(level, status string) string {
		return regexp.QuoteMeta(fmt.Sprintf("LogHandler(id=file, level=%s, destination=%s, status=%s)", level, file, status))
	}
	matchLines(t, "handlers list", run("log handlers list"), handler("warning", "started"))
	matchLines(t, "primary-level", run("log primary-level"), "warning")

	// A client's disconnect is a debug entry of the MQTT server's.
	connectOnce := func(id string) {
		c, err := testutil.TryDialV5(n.Broker().Addrs()["tcp"], id, true)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Disconnect(&paho.Disconnect{})
		// The server logs the disconnect before it forgets the client.
		testutil.Eventually(t, 10*time.Second, id+" gone", func() bool {
			_, ok := n.Broker().Server().Clients.Get(id)
			return !ok
		})
	}
	read := func() string { b, _ := os.ReadFile(file); return string(b) }
	connectOnce("before-debug")
	matchLines(t, "set-level debug", run("log set-level debug"), "debug")
	connectOnce("while-debug")
	testutil.Eventually(t, 10*time.Second, "a debug entry in "+file, func() bool {
		return strings.Contains(read(), "while-debug") && strings.Contains(read(), "DEBUG")
	})
	matchLines(t, "handlers list", run("log handlers list"), handler("debug", "started"))
	matchLines(t, "primary-level", run("log primary-level"), "debug")
	matchLines(t, "set-level warning", run("log set-level warning"), "warning")
	if strings.Contains(read(), "before-debug") {
		t.Errorf("a debug entry written before set-level debug:\n%s", read())
	}

	matchLines(t, "set-level bad", run("log set-level loud"),
		regexp.QuoteMeta("[error] set overall log level failed: {primary_logger_level,{invalid_level,loud}}"))
	matchLines(t, "primary-level info", run("log primary-level info"), "info")
	matchLines(t, "primary-level bad", run("log primary-level loud"), "info")
	matchLines(t, "handlers set-level", run("log handlers set-level file error"), "error")
	matchLines(t, "handlers set-level nosuch", run("log handlers set-level nosuch error"), regexp.QuoteMeta("[error] {not_found,nosuch}"))
	matchLines(t, "handlers stop", run("log handlers stop file"), "log handler file stopped")
	matchLines(t, "handlers list", run("log handlers list"), handler("error", "stopped"))
	matchLines(t, "handlers stop again", run("log handlers stop file"),
		regexp.QuoteMeta("[error] failed to stop log handler file: {not_started,file}"))
	matchLines(t, "handlers start", run("log handlers start file"), "log handler file started")
	matchLines(t, "handlers start nosuch", run("log handlers start nosuch"),
		regexp.QuoteMeta("[error] failed to start log handler nosuch: {not_found,nosuch}"))
	var hs []map[string]string
	if err := json.Unmarshal([]byte(run("log handlers list --json")), &hs); err != nil || len(hs) != 1 || hs[0]["id"] != "file" || hs[0]["status"] != "started" {
		t.Fatalf("handlers list --json: %v %v", hs, err)
	}
	matchLines(t, "log", run("log"),
		usageRe("log set-level <Level>", "Set the overall log level"),
		usageRe("log primary-level", "Show the primary log level now"),
		usageRe("log primary-level <Level>", "Set the primary log level"),
		usageRe("log handlers list", "Show log handlers"),
		usageRe("log handlers start <HandlerId>", "Start a log handler"),
		usageRe("log handlers stop  <HandlerId>", "Stop a log handler"),
		usageRe("log handlers set-level <HandlerId> <Level>", "Set log level of a log handler"))
}

// twoNodes starts two nodes on loopback range sn and clusters them.
func twoNodes(t *testing.T, sn int) (a, b *testnode.Node) {
	t.Helper()
	a = testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sn))
	b = testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sn))
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 30*time.Second, a, b)
	return a, b
}

func retain(t *testing.T, c *testutil.V5, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// TestCtlRetainer: messages retained through B are counted and listed on
// A; retainer clean on A, with a filter and without, clears them on both.
func TestCtlRetainer(t *testing.T) {
	a, b := twoNodes(t, testutil.Subnet(t))
	pub := testutil.DialV5(t, b.Addr, "retainer-pub")
	for _, tp := range []string{"r/1", "r/2", "r/2/x", "s/1"} {
		retain(t, pub, tp, "m-"+tp)
	}
	testutil.Eventually(t, 10*time.Second, "A holds 4 retained messages", func() bool {
		return ctl(t, a, "retainer info") == "retained/total: 4\n"
	})
	matchLines(t, "topics", ctl(t, a, "retainer topics"), "r/1", "r/2", "r/2/x", "s/1")
	var topics []string
	if err := json.Unmarshal([]byte(ctl(t, a, "retainer topics --json")), &topics); err != nil || len(topics) != 4 {
		t.Fatalf("topics --json: %v %v", topics, err)
	}
	matchLines(t, "clean r/+", ctl(t, a, "retainer clean r/+"), "Cleaned 2 retained messages")
	matchLines(t, "clean nothing", ctl(t, a, "retainer clean s/none"), "Cleaned 0 retained messages")
	matchLines(t, "clean s/1", ctl(t, a, "retainer clean s/1"), "Cleaned 1 retained messages")
	testutil.Eventually(t, 10*time.Second, "B holds only r/2/x", func() bool {
		return ctl(t, b, "retainer topics") == "r/2/x\n"
	})
	// A subscriber on B gets what is left and nothing cleared.
	sub := testutil.DialV5(t, b.Addr, "retainer-sub")
	sub.Sub(t, "r/#", 1)
	sub.Expect(t, "r/2/x", []byte("m-r/2/x"))
	retain(t, pub, "t/1", "m-t/1")
	testutil.Eventually(t, 10*time.Second, "A holds 2", func() bool { return ctl(t, a, "retainer info") == "retained/total: 2\n" })
	matchLines(t, "clean", ctl(t, a, "retainer clean"), "Cleaned 2 retained messages")
	testutil.Eventually(t, 10*time.Second, "B holds none", func() bool {
		return ctl(t, b, "retainer info") == "retained/total: 0\n" && ctl(t, b, "retainer topics") == ""
	})
	late := testutil.DialV5(t, b.Addr, "retainer-late")
	late.Sub(t, "#", 0)
	late.Sub(t, "t/1", 0)
	retain(t, pub, "u/1", "after")
	late.Expect(t, "u/1", []byte("after")) // the first message: nothing retained came before it
	matchLines(t, "retainer", ctl(t, a, "retainer"),
		usageRe("retainer info", "Show the count of retained messages"),
		usageRe("retainer topics", "Show all topics of retained messages"),
		usageRe("retainer clean", "Clean all retained messages"),
		usageRe("retainer clean <Topic>", "Clean retained messages by the specified topic filter"))
}

// apiStatus is a request's HTTP status with an application's credentials.
func apiStatus(n *testnode.Node, id, secret string) int {
	st, _ := n.CallAs(id, secret, "GET", "/brokers", nil)
	return st
}

// TestCtlMgmt: an application inserted on A authenticates on B, is
// refused there once disabled on A, and is gone once deleted; the lines
// are EMQX's; the /apps routes do the same. A node that joins later takes
// the cluster's default application, not its own.
func TestCtlMgmt(t *testing.T) {
	sn := testutil.Subnet(t)
	a, b := twoNodes(t, sn)
	out := ctl(t, a, "mgmt insert ops1 Operations")
	matchLines(t, "insert", out, "AppSecret: [0-9A-Za-z]{30,}")
	secret := strings.TrimSpace(strings.TrimPrefix(out, "AppSecret: "))
	testutil.Eventually(t, 10*time.Second, "ops1 authenticates on B", func() bool { return apiStatus(b, "ops1", secret) == http.StatusOK })
	if st := apiStatus(b, "ops1", "wrong"); st != http.StatusUnauthorized {
		t.Fatalf("wrong secret: HTTP %d", st)
	}
	appLine := func(id, secret, name, desc, status string) string {
		return regexp.QuoteMeta(fmt.Sprintf("app_id: %s, secret: %s, name: %s, desc: %s, status: %s, expired: undefined", id, secret, name, desc, status))
	}
	matchLines(t, "lookup", ctl(t, b, "mgmt lookup ops1"), appLine("ops1", secret, "Operations", "Application user", "true"))
	matchLines(t, "list", ctl(t, b, "mgmt list"), appLine("admin", "public", "Default", "Application user", "true"),
		appLine("ops1", secret, "Operations", "Application user", "true"))
	matchLines(t, "insert again", ctl(t, b, "mgmt insert ops1 Other"), "Error: already existed")
	matchLines(t, "insert bad id", ctl(t, a, "mgmt insert bad!id X"), regexp.QuoteMeta(`Error: <<"required: ^[A-Za-z0-9]+[A-Za-z0-9-_]*$">>`))
	matchLines(t, "lookup nosuch", ctl(t, a, "mgmt lookup nosuch"), `Not Found\.`)
	matchLines(t, "update nosuch", ctl(t, a, "mgmt update nosuch true"), "Error: not_found")

	matchLines(t, "update false", ctl(t, a, "mgmt update ops1 false"), `update successfully\.`)
	testutil.Eventually(t, 10*time.Second, "ops1 refused on B", func() bool { return apiStatus(b, "ops1", secret) == http.StatusUnauthorized })
	matchLines(t, "lookup disabled", ctl(t, b, "mgmt lookup ops1"), appLine("ops1", secret, "Operations", "Application user", "false"))
	matchLines(t, "update true", ctl(t, b, "mgmt update ops1 true"), `update successfully\.`)
	testutil.Eventually(t, 10*time.Second, "ops1 back on A", func() bool { return apiStatus(a, "ops1", secret) == http.StatusOK })
	matchLines(t, "delete", ctl(t, a, "mgmt delete ops1"), "ok")
	matchLines(t, "delete again", ctl(t, a, "mgmt delete ops1"), "ok")
	testutil.Eventually(t, 10*time.Second, "ops1 gone on B", func() bool {
		return apiStatus(b, "ops1", secret) == http.StatusUnauthorized && ctl(t, b, "mgmt lookup ops1") == "Not Found.\n"
	})
	matchLines(t, "mgmt", ctl(t, a, "mgmt"), usageRe("mgmt list", "List Applications"),
		usageRe("mgmt insert <AppId> <Name>", "Add Application of REST API"),
		usageRe("mgmt update <AppId> <status>", "Update Application of REST API"),
		usageRe("mgmt lookup <AppId>", "Get Application of REST API"),
		usageRe("mgmt delete <AppId>", "Delete Application of REST API"))

	// HTTP: POST on A, the app works on B; PUT status false refuses it.
	var added struct{ Secret string }
	a.Data("POST", "/apps", map[string]any{"app_id": "h1", "name": "HTTP", "desc": "by api", "status": true}, &added)
	if added.Secret == "" {
		t.Fatal("POST /apps: no secret")
	}
	testutil.Eventually(t, 10*time.Second, "h1 authenticates on B", func() bool { return apiStatus(b, "h1", added.Secret) == http.StatusOK })
	var list []map[string]any
	b.Data("GET", "/apps", nil, &list)
	if len(list) != 2 || list[1]["app_id"] != "h1" || list[1]["secret"] != nil || list[1]["expired"] != "undefined" || list[1]["status"] != true {
		t.Fatalf("GET /apps: %v", list)
	}
	var one map[string]any
	b.Data("GET", "/apps/h1", nil, &one)
	if one["secret"] != added.Secret || one["desc"] != "by api" || one["name"] != "HTTP" {
		t.Fatalf("GET /apps/h1: %v", one)
	}
	var none map[string]any
	b.Data("GET", "/apps/nosuch", nil, &none)
	if none == nil || len(none) != 0 {
		t.Fatalf("GET /apps/nosuch: %v", none)
	}
	if st, body := a.Call("POST", "/apps", map[string]any{"app_id": "h1", "name": "x", "status": true}); st != 200 || string(body) != `{"message":"already_existed"}` {
		t.Fatalf("POST existing: %d %s", st, body)
	}
	if st, body := a.Call("PUT", "/apps/nosuch", map[string]any{"status": true}); st != 200 || string(body) != `{"message":"not_found"}` {
		t.Fatalf("PUT nosuch: %d %s", st, body)
	}
	b.Data("PUT", "/apps/h1", map[string]any{"status": false, "expired": 4102444800}, nil)
	testutil.Eventually(t, 10*time.Second, "h1 refused on A", func() bool { return apiStatus(a, "h1", added.Secret) == http.StatusUnauthorized })
	matchLines(t, "lookup h1", ctl(t, a, "mgmt lookup h1"),
		regexp.QuoteMeta("app_id: h1, secret: "+added.Secret+", name: HTTP, desc: by api, status: false, expired: 4102444800"))
	// An application past its end is refused.
	a.Data("PUT", "/apps/h1", map[string]any{"status": true, "expired": 1}, nil)
	if st := apiStatus(a, "h1", added.Secret); st != http.StatusUnauthorized {
		t.Fatalf("expired app: HTTP %d", st)
	}
	a.Data("DELETE", "/apps/h1", nil, nil)
	testutil.Eventually(t, 10*time.Second, "h1 gone on B", func() bool { return ctl(t, b, "mgmt lookup h1") == "Not Found.\n" })

	// The default application disabled on the cluster stays disabled when
	// a fresh node (which seeds it enabled) joins.
	if err := a.N.Apps().SetStatus("admin", false); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "admin disabled on B", func() bool { return apiStatus(b, "admin", "public") == http.StatusUnauthorized })
	c := testnode.Start(t, fmt.Sprintf("emqx3@127.0.%d.3", sn))
	if apiStatus(c, "admin", "public") != http.StatusOK {
		t.Fatal("a fresh node: its default application does not authenticate")
	}
	testnode.Join(t, c, a)
	testnode.WaitRunning(t, 30*time.Second, a, b, c)
	testutil.Eventually(t, 10*time.Second, "admin disabled on the node that joined", func() bool {
		return apiStatus(c, "admin", "public") == http.StatusUnauthorized
	})
	if st := apiStatus(a, "admin", "public"); st != http.StatusUnauthorized {
		t.Fatalf("admin re-enabled on A by the node that joined: HTTP %d", st)
	}
}

// TestCtlAdmins: users added, changed and deleted on one node are so on
// the other; the default user is there, and comes back after a delete;
// the answers are emqx_dashboard_cli's.
func TestCtlAdmins(t *testing.T) {
	a, b := twoNodes(t, testutil.Subnet(t))
	bs := b.N.Admins()
	if !bs.Check("admin", "public") || !a.N.Admins().Check("admin", "public") {
		t.Fatal("default user admin/public refused")
	}
	matchLines(t, "add", ctl(t, a, "admins add bob Passw0rd! ops"), "ok")
	testutil.Eventually(t, 10*time.Second, "bob on B", func() bool { return bs.Check("bob", "Passw0rd!") })
	if bs.Check("bob", "wrong-pass1") {
		t.Fatal("a wrong password accepted")
	}
	if got := bs.List(); !slices.Equal(got, []admins.User{{Username: "admin", Tags: "administrator"}, {Username: "bob", Tags: "ops"}}) {
		t.Fatalf("list: %v", got)
	}
	matchLines(t, "add again", ctl(t, b, "admins add bob Passw0rd! ops"), regexp.QuoteMeta(`Error: <<"Username Already Exist">>`))
	matchLines(t, "add short", ctl(t, b, "admins add al short1"), regexp.QuoteMeta(`Error: <<"The password length: 8-64">>`))
	matchLines(t, "add weak", ctl(t, b, "admins add al 12345678"), regexp.QuoteMeta(`Error: <<"The password must contain at least two`)+".*")
	matchLines(t, "add bad name", ctl(t, b, "admins add a!l Passw0rd!"), regexp.QuoteMeta(`Error: <<"required: ^[A-Za-z0-9]+[A-Za-z0-9-_]*$">>`))
	matchLines(t, "add no tags", ctl(t, b, "admins add carol Passw0rd!"), "ok")

	matchLines(t, "passwd", ctl(t, b, "admins passwd bob N3w-secret"), "ok")
	testutil.Eventually(t, 10*time.Second, "bob's new password on A", func() bool {
		return a.N.Admins().Check("bob", "N3w-secret") && !a.N.Admins().Check("bob", "Passw0rd!")
	})
	matchLines(t, "passwd nosuch", ctl(t, a, "admins passwd nosuch N3w-secret"), regexp.QuoteMeta(`{error,<<"Username Not Found">>}`))
	matchLines(t, "passwd weak", ctl(t, a, "admins passwd bob abc"), regexp.QuoteMeta(`{error,<<"The password length: 8-64">>}`))

	matchLines(t, "del", ctl(t, a, "admins del bob"), "ok")
	testutil.Eventually(t, 10*time.Second, "bob gone on B", func() bool { return !bs.Check("bob", "N3w-secret") })
	matchLines(t, "del again", ctl(t, b, "admins del bob"), regexp.QuoteMeta(`{error,<<"Username Not Found">>}`))

	// The default user: the dashboard cannot delete admin; emqx_ctl can,
	// and it comes back with the password it had.
	if err := bs.Delete("admin"); err != admins.ErrCannotDelete {
		t.Fatalf("dashboard delete admin: %v", err)
	}
	matchLines(t, "passwd admin", ctl(t, a, "admins passwd admin Adm1n-pass"), "ok")
	testutil.Eventually(t, 10*time.Second, "admin's new password on B", func() bool { return bs.Check("admin", "Adm1n-pass") })
	matchLines(t, "del admin", ctl(t, b, "admins del admin"), "ok")
	if !bs.Check("admin", "Adm1n-pass") {
		t.Fatal("admin not back after a delete, with its password")
	}
	matchLines(t, "admins", ctl(t, a, "admins"), usageRe("admins add <Username> <Password> <Tags>", "Add dashboard user"),
		usageRe("admins passwd <Username> <Password>", "Reset dashboard user password"),
		usageRe("admins del <Username>", "Delete dashboard user"))
}

// TestCtlHelp: emqx_ctl's usage ("$usage") lists every command's usage
// after a line of 110 dashes, in EMQX's order, status and cluster (which
// emqx_ctl answers itself) in their places.
func TestCtlHelp(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t)))
	out := ctl(t, n, "$usage")
	ls := lines(out)
	if len(ls) < 2 || ls[0] != "Usage: emqx_ctl" {
		t.Fatalf("usage:\n%s", out)
	}
	order := []string{"status", "broker", "cluster", "clients", "routes", "subscriptions", "plugins", "listeners",
		"vm", "mnesia", "trace", "traces", "log", "mgmt", "data", "acl", "pem_cache", "modules", "retainer", "admins",
		"user", "clientid"}
	dashes := strings.Repeat("-", 110)
	usageLine := regexp.MustCompile(`^\S.{69,}# \S`) // "~-70s# ~s"
	var sections []string
	for i := 1; i < len(ls); i++ {
		if ls[i] == dashes {
			if i+1 >= len(ls) || ls[i+1] == dashes {
				t.Fatalf("an empty section at line %d:\n%s", i+1, out)
			}
			sections = append(sections, strings.Fields(ls[i+1])[0])
			continue
		}
		if !usageLine.MatchString(ls[i]) {
			t.Errorf("line %d %q is not a usage line", i+1, ls[i])
		}
	}
	if ls[1] != dashes {
		t.Fatalf("no dashes after the title:\n%s", out)
	}
	last := -1
	for _, s := range sections {
		i := slices.Index(order, s)
		if i < 0 {
			continue // a command not in EMQX's list comes after them
		}
		if i <= last {
			t.Errorf("section %s out of EMQX's order: %v", s, sections)
		}
		last = i
	}
	for _, want := range []string{"status", "broker", "cluster", "plugins", "listeners", "vm", "log", "mgmt", "acl", "modules", "retainer", "admins"} {
		if !slices.Contains(sections, want) {
			t.Errorf("no %s section: %v", want, sections)
		}
	}
	for _, want := range []string{
		usageRe("status", "Show broker status"),
		usageRe("cluster join <Node>", "Join the cluster"),
		usageRe("cluster status", "Cluster status"),
		usageRe("retainer clean <Topic>", "Clean retained messages by the specified topic filter"),
	} {
		if !regexp.MustCompile("(?m)^" + want + "$").MatchString(out) {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
	if slices.Contains(sections, "user") {
		t.Errorf("user listed without emqx_auth_mnesia: %v", sections)
	}
	ctl(t, n, "plugins load emqx_auth_mnesia")
	sections2 := regexp.MustCompile(`(?m)^-{110}\n(\S+)`).FindAllStringSubmatch(ctl(t, n, "$usage"), -1)
	var names []string
	for _, m := range sections2 {
		names = append(names, m[1])
	}
	if k := len(names); k < 2 || names[k-2] != "user" || names[k-1] != "clientid" {
		t.Errorf("with emqx_auth_mnesia: %v, want user and clientid last", names)
	}
}
