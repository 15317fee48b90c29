package testutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// lockPort returns a port no one else uses for subnet locks, so that tests
// of the allocator see only their own holders.
func lockPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func held(t *testing.T, n, port int) bool {
	t.Helper()
	ln, err := net.Listen("tcp4", subnetLockAddr(n, port))
	if err == nil {
		ln.Close()
		return false
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatal(err)
	}
	return true
}

func TestSubnet(t *testing.T) {
	a, b := Subnet(t), Subnet(t)
	if a == b {
		t.Fatalf("two allocations gave the same subnet %d", a)
	}
	for _, n := range []int{a, b} {
		if n < subnetFirst || n > subnetLast {
			t.Fatalf("subnet %d out of %d..%d", n, subnetFirst, subnetLast)
		}
		if !held(t, n, subnetLockPort) {
			t.Fatalf("subnet %d is not held", n)
		}
	}
}

// An N whose lock another holder has (here a listener of the test's own) is
// skipped; a released one is free again.
func TestSubnetSkipsHeld(t *testing.T) {
	port := lockPort(t)
	a := subnetOn(t, port)
	next := subnetFirst + (a-subnetFirst+1)%(subnetLast-subnetFirst+1)
	ln, err := net.Listen("tcp4", subnetLockAddr(next, port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if b := subnetOn(t, port); b == a || b == next {
		t.Fatalf("got %d: held are %d (allocated) and %d (another holder)", b, a, next)
	}

	var c int
	t.Run("hold", func(t *testing.T) {
		c = subnetOn(t, port)
		if !held(t, c, port) {
			t.Fatalf("subnet %d is not held during the test", c)
		}
	})
	if held(t, c, port) {
		t.Fatalf("subnet %d is still held after its test", c)
	}
}

// A subnet held by another test process is never handed out here.
func TestSubnetAcrossProcesses(t *testing.T) {
	port := lockPort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSubnetHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESTUTIL_SUBNET_HELPER_PORT="+strconv.Itoa(port))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the helper exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	}()
	var line string
	for r := bufio.NewReader(stdout); !strings.HasPrefix(line, "subnets:"); {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	var theirs []int
	for _, f := range strings.Fields(strings.TrimPrefix(line, "subnets:")) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("helper said %q", line)
		}
		theirs = append(theirs, n)
	}
	if len(theirs) != 5 {
		t.Fatalf("helper said %q", line)
	}
	subnets.Lock()
	subnets.next = theirs[0] - subnetFirst // search from where the other process holds
	subnets.Unlock()
	for i := 0; i < 10; i++ {
		if n := subnetOn(t, port); slices.Contains(theirs, n) {
			t.Fatalf("got %d, held by another process: %v", n, theirs)
		}
	}
}

// TestSubnetHelperProcess is the other process of TestSubnetAcrossProcesses:
// it holds five subnets until its stdin closes.
func TestSubnetHelperProcess(t *testing.T) {
	p := os.Getenv("TESTUTIL_SUBNET_HELPER_PORT")
	if p == "" {
		t.Skip("helper of TestSubnetAcrossProcesses")
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for i := 0; i < 5; i++ {
		ns = append(ns, strconv.Itoa(subnetOn(t, port)))
	}
	fmt.Println("subnets: " + strings.Join(ns, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
}
