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

// node is one emqx node process; its home (etc/, data/, log/) outlives
// kills, so a restarted node rejoins its cluster by itself.
type node struct {
	root string // the repository: bin/ and etc/
	name string // emqx node name
	home string
	addr string // MQTT listener
	cmd  *exec.Cmd
	done chan struct{}
}

const cookie = "soak-cookie"

func newNode(root, name string) (*node, error) {
	home, err := release.NewHome(root, "emqxsoak-node")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	return &node{root: root, name: name, home: home, addr: addr}, nil
}

func (n *node) env() []string {
	return append(os.Environ(), "EMQX_HOME="+n.home, "EMQX_NODE_NAME="+n.name, "EMQX_NODE_COOKIE="+cookie,
		"EMQX_LISTENER__TCP__EXTERNAL="+n.addr, "EMQX_LOG__TO=file")
}

// start runs bin/emqx foreground and waits until MQTT clients are accepted.
func (n *node) start() error {
	n.cmd = exec.Command(filepath.Join(n.root, "bin", "emqx"), "foreground")
	n.cmd.Env = n.env()
	if err := n.cmd.Start(); err != nil {
		return err
	}
	n.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(n.cmd, n.done)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", n.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.kill()
	return fmt.Errorf("%s: MQTT listener %s not up within 30s", n.name, n.addr)
}

// kill is kill -9.
func (n *node) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
}

// stop is a graceful stop (SIGTERM), bounded.
func (n *node) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// ctl runs bin/emqx_ctl against the node.
func (n *node) ctl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(n.root, "bin", "emqx_ctl"), args...)
	cmd.Env = n.env()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
