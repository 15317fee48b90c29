package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"emqxgo/internal/release"
)

// broker is a running broker process.
type broker struct {
	name string
	addr string
	cmd  *exec.Cmd
	home string
	node string // emqx node name
}

func (b *broker) pid() int { return b.cmd.Process.Pid }

func (b *broker) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections", addr)
}

// startEmqx runs bin/emqx foreground in a fresh home with node name node.
func startEmqx(root, node string, env ...string) (*broker, error) {
	home, err := release.NewHome(root, "emqxbench-node")
	if err != nil {
		return nil, err
	}
	port := freePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(filepath.Join(root, "bin", "emqx"), "foreground")
	cmd.Env = append(os.Environ(), "EMQX_HOME="+home, "EMQX_NODE_NAME="+node, "EMQX_NODE_COOKIE=bench-cookie",
		"EMQX_LISTENER__TCP__EXTERNAL="+addr, "EMQX_MANAGEMENT__LISTENER__HTTP=off", "EMQX_DASHBOARD__LISTENER__HTTP=off",
		"EMQX_LOG__TO=file") // shipped defaults otherwise
	cmd.Env = append(cmd.Env, env...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &broker{name: "emqx-go", addr: addr, cmd: cmd, home: home, node: node}
	if err := waitPort(addr); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

// ctl runs bin/emqx_ctl against b.
func (b *broker) ctl(root string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "bin", "emqx_ctl"), args...)
	cmd.Env = append(os.Environ(), "EMQX_HOME="+b.home, "EMQX_NODE_NAME="+b.node, "EMQX_NODE_COOKIE=bench-cookie")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// startMosquitto runs the baseline with the same limits that matter.
func startMosquitto() (*broker, error) {
	dir, err := os.MkdirTemp("", "emqxbench-mosq")
	if err != nil {
		return nil, err
	}
	port := freePort()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 65535\nmax_connections -1\npersistence false\nlog_type error\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mosquitto (install it: apt-get install mosquitto): %w", err)
	}
	b := &broker{name: "mosquitto", addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, home: dir}
	if err := waitPort(b.addr); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}
