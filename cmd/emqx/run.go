package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"emqxgo/internal/config"
	"emqxgo/internal/gctune"
	"emqxgo/internal/logging"
	"emqxgo/internal/node"
	"emqxgo/internal/version"

	"go.uber.org/zap"
)

// stopTimeout bounds a graceful stop; past it the process exits anyway.
const stopTimeout = 15 * time.Second

// daemonCmd is the hidden command `emqx start` runs in the background; it
// reports readiness on file descriptor 3.
const daemonCmd = "__daemon"

func cmdForeground() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	cookieWarning(os.Stderr, cfg)
	to := "console"
	if cfg.Log.ToIsSet {
		to = cfg.Log.To
	}
	return runNode(cfg, to, func(err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "Failed to start EMQX node '%s': %v\n", cfg.Node.Name, err)
		}
	})
}

func cmdDaemon() error {
	status := os.NewFile(3, "status")
	cfg, err := config.LoadFromHome()
	if err != nil {
		fmt.Fprintf(status, "error: invalid configuration:\n%v\n", err)
		return fail()
	}
	signal.Ignore(syscall.SIGHUP)
	return runNode(cfg, cfg.Log.To, func(err error) {
		if err != nil {
			fmt.Fprintf(status, "error: %v\n", err)
		} else {
			fmt.Fprintln(status, "ok")
		}
		_ = status.Close()
	})
}

// runNode starts a node, tells ready(nil) or ready(err), then runs until
// SIGTERM/SIGINT or `emqx stop`, and stops gracefully.
func runNode(cfg *config.Config, logTo string, ready func(error)) error {
	log, err := logging.New(cfg.Log, logTo)
	if err != nil {
		ready(fmt.Errorf("logging: %w", err))
		return fail()
	}
	defer log.Close()
	where := ""
	if log.FilePath != "" {
		where = " (see " + log.FilePath + ")"
	}
	if shortCookie(cfg) {
		log.Warn(shortCookieWarning)
	}
	defer gctune.Start(gctune.Headroom)() // fewer collections while the live heap is small
	n, err := node.New(cfg, log.Logger)
	if err == nil {
		n.ReloadConfigWith(config.LoadFromHome) // plugins reload reads etc/plugins/*.conf again
		err = n.Start()
	}
	if err != nil {
		log.Error("failed to start", zap.Error(err))
		ready(fmt.Errorf("%w%s", err, where))
		return fail()
	}
	log.Warn("EMQX node started", zap.String("node", cfg.Node.Name), zap.String("version", version.Version))
	ready(nil)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		log.Warn("stopping on signal", zap.String("signal", s.String()))
	case <-n.StopRequested():
		log.Warn("stopping on request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	_ = n.Stop(ctx)
	return nil
}
