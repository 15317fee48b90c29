package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"emqxgo/internal/config"
	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/version"
)

func ctlClient(cfg *config.Config, timeout time.Duration) *ctlrpc.Client {
	return &ctlrpc.Client{Path: ctlrpc.SocketPath(cfg.Node.DataDir), Timeout: timeout}
}

func waitForStart() time.Duration {
	if v := os.Getenv("EMQX_WAIT_FOR_START"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 120 * time.Second
}

func cmdStart() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	cookieWarning(os.Stderr, cfg)
	if _, err := ctlClient(cfg, 5*time.Second).Ping(); err == nil {
		fmt.Fprintln(os.Stderr, "Node is already running!")
		return fail()
	}
	logFile := filepath.Join(cfg.Log.Dir, cfg.Log.File)
	outPath := filepath.Join(cfg.Log.Dir, "emqx.out")
	failed := func(format string, a ...any) error {
		fmt.Fprintf(os.Stderr, "Failed to start EMQX node '%s': %s\n", cfg.Node.Name, fmt.Sprintf(format, a...))
		fmt.Fprintf(os.Stderr, "Logs: %s and %s\n", logFile, outPath)
		return fail()
	}
	if err := os.MkdirAll(cfg.Log.Dir, 0o755); err != nil {
		return failed("log.dir: %v", err)
	}
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return failed("%v", err)
	}
	defer out.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return failed("%v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return failed("%v", err)
	}
	cmd := exec.Command(exe, daemonCmd)
	cmd.Env = append(os.Environ(), "EMQX_HOME="+cfg.Home)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return failed("%v", err)
	}
	_ = pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string, 1)
	go func() {
		b, _ := bufio.NewReader(pr).ReadString(0)
		lines <- b
	}()
	timeout := waitForStart()
	select {
	case msg := <-lines:
		msg = strings.TrimSpace(msg)
		if msg == "ok" {
			fmt.Printf("EMQX %s is started successfully!\n", version.Version)
			return nil
		}
		if r, ok := strings.CutPrefix(msg, "error: "); ok {
			return failed("%s", r)
		}
		werr := <-exited
		return failed("the node exited before it was ready (%v)", werr)
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return failed("the node did not answer within %s (EMQX_WAIT_FOR_START)", timeout)
	}
}

func cmdStop(quietIfDown bool) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	c := ctlClient(cfg, 10*time.Second)
	r, err := c.Ping()
	if err != nil {
		if quietIfDown {
			return nil
		}
		return notResponding(cfg)
	}
	if _, err := c.Call(ctlrpc.Request{Op: ctlrpc.OpStop}); err != nil {
		return notResponding(cfg)
	}
	deadline := time.Now().Add(stopTimeout + 15*time.Second)
	for alive(r.Pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(r.Pid, syscall.SIGKILL)
			fmt.Fprintf(os.Stderr, "Node '%s' did not stop in time; killed process %d.\n", cfg.Node.Name, r.Pid)
			return fail()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !quietIfDown {
		fmt.Println("ok")
	}
	return nil
}

// alive reports whether pid runs (a zombie nobody reaped counts as gone).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func cmdRestart() error {
	if err := cmdStop(true); err != nil {
		return err
	}
	return cmdStart()
}

func cmdPing() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if _, err := ctlClient(cfg, 10*time.Second).Ping(); err != nil {
		return notResponding(cfg)
	}
	fmt.Println("pong")
	return nil
}

func cmdPid() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	r, err := ctlClient(cfg, 10*time.Second).Ping()
	if err != nil {
		return notResponding(cfg)
	}
	fmt.Println(r.Pid)
	return nil
}

// cmdCtl runs bin/emqx_ctl beside this executable with the same arguments.
func cmdCtl(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	ctl := filepath.Join(filepath.Dir(exe), "emqx_ctl")
	return syscall.Exec(ctl, append([]string{ctl}, args...), os.Environ())
}
