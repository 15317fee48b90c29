package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// serveStockMochi runs mochi as its README shows it (allow-all auth, one
// TCP listener, default options but the same write queue as our node) until
// SIGTERM: the second baseline, so that what the MQTT engine costs by itself
// is measured in the same run as our node and mosquitto.
func serveStockMochi(addr string) {
	opts := &mqtt.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = 1000 // our zone.max_mqueue_len default
	opts.Capabilities = caps
	s := mqtt.New(opts)
	must(s.AddHook(new(allowAll), nil))
	must(s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})))
	must(s.Serve())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	_ = s.Close()
}

// allowAll is what mochi's auth.AllowHook does: every client, every topic.
type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// startStockMochi runs this program again as a stock mochi server.
func startStockMochi() (*broker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	cmd := exec.Command(self, "-serve-stock-mochi", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &broker{name: "mochi", addr: addr, cmd: cmd}
	if err := waitPort(addr); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}
