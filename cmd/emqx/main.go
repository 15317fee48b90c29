// Command emqx is the node daemon: start|stop|restart|console|foreground|
// ping|pid|check_config|version|ctl. It is the only place with os.Exit and
// signal handling; the node itself lives in internal/node.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"emqxgo/internal/access/acl"
	"emqxgo/internal/config"
	"emqxgo/internal/version"
)

// exitError carries an exit code; its message (if any) was already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func fail() error { return exitError{code: 1} }

func main() {
	root := &cobra.Command{
		Use:               "emqx",
		Short:             "EMQX-compatible MQTT broker node",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetUsageTemplate("Usage: emqx {start|stop|restart|console|foreground|ping|pid|check_config|version|ctl ...}\n")
	root.AddCommand(
		&cobra.Command{Use: "start", Short: "start the node in the background", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdStart() }},
		&cobra.Command{Use: "stop", Short: "stop the running node", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdStop(false) }},
		&cobra.Command{Use: "restart", Short: "stop then start the node", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdRestart() }},
		&cobra.Command{Use: "console", Short: "run the node in the foreground, logging to the console", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdForeground() }},
		&cobra.Command{Use: "foreground", Short: "run the node in the foreground", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdForeground() }},
		&cobra.Command{Use: "ping", Short: "check that the node answers", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdPing() }},
		&cobra.Command{Use: "pid", Short: "print the node's process id", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdPid() }},
		&cobra.Command{Use: "check_config", Short: "validate the configuration and print it", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdCheckConfig() }},
		&cobra.Command{Use: "version", Short: "print the version", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
			fmt.Println(version.Version)
			return nil
		}},
		&cobra.Command{Use: "ctl", Short: "same as emqx_ctl ARGS", DisableFlagParsing: true, RunE: func(_ *cobra.Command, args []string) error { return cmdCtl(args) }},
		&cobra.Command{Use: daemonCmd, Hidden: true, Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return cmdDaemon() }},
	)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprint(os.Stderr, root.UsageString())
		os.Exit(1)
	}
}

// loadConfig loads the node's configuration or prints why it cannot.
func loadConfig() (*config.Config, error) {
	cfg, err := config.LoadFromHome()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Invalid configuration:\n%v\n", err)
		return nil, fail()
	}
	return cfg, nil
}

// minCookieLen is the shortest node.cookie not warned about. The cookie
// never crosses the wire, but a fake peer a node dials, or anyone who
// records a handshake, can try guesses offline against what it saw.
const minCookieLen = 16

// shortCookieWarning is the warning for a cookie under minCookieLen.
var shortCookieWarning = fmt.Sprintf("node.cookie is shorter than %d characters: a fake peer this node dials, or anyone "+
	"who records a handshake, can guess it offline; use a random cookie of %d characters or more, "+
	"and rpc.driver = ssl where the cluster ports are reachable from untrusted hosts", minCookieLen, minCookieLen)

// shortCookie reports a cookie (other than the default, warned about on
// its own) under minCookieLen.
func shortCookie(cfg *config.Config) bool {
	return !cfg.Node.CookieIsDefault && len(cfg.Node.Cookie) < minCookieLen
}

// cookieWarning prints the default-cookie or short-cookie warning on w.
func cookieWarning(w io.Writer, cfg *config.Config) {
	switch {
	case cfg.Node.CookieIsDefault:
		fmt.Fprintf(w, "!!!!!!\nWARNING: Default (insecure) Erlang cookie is in use.\n"+
			"Please set node.cookie in %s/emqx.conf or override from environment variable EMQX_NODE_COOKIE\n"+
			"NOTE: Use the same config value for all nodes in the cluster.\n!!!!!!\n", cfg.EtcDir)
	case shortCookie(cfg):
		fmt.Fprintf(w, "!!!!!!\nWARNING: %s.\n"+
			"Please set node.cookie in %s/emqx.conf or override from environment variable EMQX_NODE_COOKIE\n"+
			"NOTE: Use the same config value for all nodes in the cluster.\n!!!!!!\n", shortCookieWarning, cfg.EtcDir)
	}
}

func notResponding(cfg *config.Config) error {
	fmt.Fprintf(os.Stderr, "Node '%s' not responding to pings.\n", cfg.Node.Name)
	return fail()
}

func cmdCheckConfig() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if _, err := acl.ParseFile(cfg.Access.ACLFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "Invalid acl_file:\n%v\n", err)
		return fail()
	}
	fmt.Print(cfg.Dump())
	if line := cfg.AcceptedLine(); line != "" {
		fmt.Fprintln(os.Stderr, line)
	}
	if len(cfg.UnusedZones) > 0 {
		fmt.Fprintf(os.Stderr, "zones set that no listener uses: %s\n", strings.Join(cfg.UnusedZones, ", "))
	}
	files := []string{filepath.Join(cfg.EtcDir, config.EmqxConfFile), filepath.Join(cfg.EtcDir, config.ClusterConfFile)}
	for _, name := range config.PluginConfFiles {
		if p := filepath.Join(cfg.EtcDir, config.PluginsDir, name); fileExists(p) {
			files = append(files, p)
		}
	}
	last := len(files) - 1
	fmt.Fprintf(os.Stderr, "%s and %s are valid\n", strings.Join(files[:last], ", "), files[last])
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
