package node_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

// TestRoutesAcrossCluster: routes show lists a filter once per node
// holding it (a shared subscription by its plain filter), from any node;
// routes list every route; GET /routes pages them, GET /routes/{topic}
// takes the filter URL-encoded.
func TestRoutesAcrossCluster(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]
	testutil.DialV5(t, a.Addr, "ra").Sub(t, "r/+", 0)
	testutil.DialV5(t, b.Addr, "rb").Sub(t, "$share/g/r/+", 0)
	cc := testutil.DialV5(t, c.Addr, "rc")
	cc.Sub(t, "r/+", 1)
	cc.Sub(t, "only/c", 1)

	want := "r/+ -> " + a.Name + "\nr/+ -> " + b.Name + "\nr/+ -> " + c.Name + "\n"
	for _, n := range ns {
		testutil.Eventually(t, 5*time.Second, n.Name+" lists r/+ on every node", func() bool { return ctl(t, n, "routes show r/+") == want })
	}
	for _, n := range ns {
		testutil.Eventually(t, 5*time.Second, n.Name+" lists every route", func() bool {
			return ctl(t, n, "routes list") == "only/c -> "+c.Name+"\n"+want
		})
	}
	if got := ctl(t, b, "routes show nothing"); got != "" {
		t.Errorf("routes show nothing: %q", got)
	}
	if got := ctl(t, b, "routes"); !strings.HasPrefix(got, "routes list") || !strings.Contains(got, "# Show a route\n") {
		t.Errorf("usage: %q", got)
	}

	p := getPage[node.APIRoute](t, a, "/routes?_limit=3")
	if len(p.Data) != 3 || p.Meta.Count != 4 || !p.Meta.HasNext || p.Data[0] != (node.APIRoute{Topic: "only/c", Node: c.Name}) {
		t.Errorf("GET /routes page 1: %+v", p)
	}
	p = getPage[node.APIRoute](t, a, "/routes?_limit=3&_page=2")
	if len(p.Data) != 1 || p.Meta.HasNext || p.Data[0] != (node.APIRoute{Topic: "r/+", Node: c.Name}) {
		t.Errorf("GET /routes page 2: %+v", p)
	}
	var rs []node.APIRoute
	c.Data("GET", "/routes/"+url.PathEscape("r/+"), nil, &rs)
	if len(rs) != 3 || rs[1] != (node.APIRoute{Topic: "r/+", Node: b.Name}) {
		t.Errorf("GET /routes/r%%2F%%2B: %+v", rs)
	}
	c.Data("GET", "/routes/"+url.PathEscape("only/c"), nil, &rs)
	if len(rs) != 1 || rs[0].Node != c.Name {
		t.Errorf("GET /routes/only%%2Fc: %+v", rs)
	}
}
