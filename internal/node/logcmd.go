package node

import (
	"fmt"
	"strings"

	"emqxgo/internal/logging"
)

// logCmd is emqx_mgmt_cli's log command: the node's log levels and
// handlers (emqx_logger), changed at once on this node.
func (n *Node) logCmd(c *call) string {
	lc := n.logc
	a := c.args
	switch {
	case len(a) == 2 && a[0] == "set-level":
		if err := lc.SetLevel(a[1]); err != nil {
			return fmt.Sprintf("[error] set overall log level failed: {primary_logger_level,%s}\n", err)
		}
		return a[1] + "\n"
	case len(a) == 1 && a[0] == "primary-level":
		return lc.Primary() + "\n"
	case len(a) == 2 && a[0] == "primary-level":
		_ = lc.SetPrimary(a[1]) // as EMQX: an unknown level leaves it, and it is printed
		return lc.Primary() + "\n"
	case len(a) == 2 && a[0] == "handlers" && a[1] == "list":
		hs := lc.Handlers()
		if hs == nil {
			hs = []logging.HandlerInfo{}
		}
		return c.out(hs, func() string {
			var b strings.Builder
			for _, h := range hs {
				fmt.Fprintf(&b, "LogHandler(id=%s, level=%s, destination=%s, status=%s)\n", h.ID, h.Level, h.Dst, h.Status)
			}
			return b.String()
		})
	case len(a) == 3 && a[0] == "handlers" && a[1] == "start":
		if err := lc.StartHandler(a[2]); err != nil {
			return fmt.Sprintf("[error] failed to start log handler %s: %s\n", a[2], err)
		}
		return fmt.Sprintf("log handler %s started\n", a[2])
	case len(a) == 3 && a[0] == "handlers" && a[1] == "stop":
		if err := lc.StopHandler(a[2]); err != nil {
			return fmt.Sprintf("[error] failed to stop log handler %s: %s\n", a[2], err)
		}
		return fmt.Sprintf("log handler %s stopped\n", a[2])
	case len(a) == 4 && a[0] == "handlers" && a[1] == "set-level":
		if err := lc.SetHandlerLevel(a[2], a[3]); err != nil {
			return fmt.Sprintf("[error] %s\n", err)
		}
		h, _ := lc.Handler(a[2])
		return h.Level + "\n"
	}
	return usage(logUsage...)
}

var logUsage = []usageLine{
	{"log set-level <Level>", "Set the overall log level"},
	{"log primary-level", "Show the primary log level now"},
	{"log primary-level <Level>", "Set the primary log level"},
	{"log handlers list", "Show log handlers"},
	{"log handlers start <HandlerId>", "Start a log handler"},
	{"log handlers stop  <HandlerId>", "Stop a log handler"},
	{"log handlers set-level <HandlerId> <Level>", "Set log level of a log handler"},
}

func init() {
	registerCmd(ctlCommand{name: "log", run: func(n *Node, c *call) string { return n.logCmd(c) }, usage: logUsage})
}
