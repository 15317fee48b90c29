package node

import (
	"fmt"
	"strings"
)

// retainerCmd is emqx_retainer_cli's retainer command over the cluster's
// retained messages (one table on every node).
func (n *Node) retainerCmd(c *call) string {
	f := n.fabric
	a := c.args
	switch {
	case len(a) == 1 && a[0] == "info":
		total := f.RetainedCount()
		return c.out(map[string]int{"retained/total": total}, func() string {
			return fmt.Sprintf("retained/total: %d\n", total)
		})
	case len(a) == 1 && a[0] == "topics":
		topics := f.RetainedTopics()
		if topics == nil {
			topics = []string{}
		}
		return c.out(topics, func() string {
			var b strings.Builder
			for _, t := range topics {
				b.WriteString(t + "\n")
			}
			return b.String()
		})
	case len(a) == 1 && a[0] == "clean":
		return fmt.Sprintf("Cleaned %d retained messages\n", f.ClearRetained(""))
	case len(a) == 2 && a[0] == "clean" && a[1] != "":
		return fmt.Sprintf("Cleaned %d retained messages\n", f.ClearRetained(a[1]))
	}
	return usage(retainerUsage...)
}

var retainerUsage = []usageLine{
	{"retainer info", "Show the count of retained messages"},
	{"retainer topics", "Show all topics of retained messages"},
	{"retainer clean", "Clean all retained messages"},
	{"retainer clean <Topic>", "Clean retained messages by the specified topic filter"},
}

func init() {
	registerCmd(ctlCommand{name: "retainer", run: func(n *Node, c *call) string { return n.retainerCmd(c) }, usage: retainerUsage})
}
