package testutil

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// Loopback subnets for tests that need addresses of their own (cluster ports
// come from the node name, so two nodes on one host would collide). Linux
// routes all of 127.0.0.0/8 to lo, so any 127.0.N.x binds.
//
// Test binaries of different packages run at the same time as separate
// processes, so a counter in one process cannot keep them apart: N is held
// by a TCP listener on 127.0.N.254:subnetLockPort. A bind that fails with
// EADDRINUSE means another test (of this or another process) holds N. The
// kernel releases the listener when the test ends or its process dies.
const (
	subnetFirst    = 10    // the lowest N handed out
	subnetLast     = 250   // the highest N handed out
	subnetLockHost = 254   // 127.0.N.254 holds the lock; tests use .1-.253
	subnetLockPort = 27370 // below the ephemeral range, so no outgoing connection takes it
)

// Subnet returns an N in subnetFirst..subnetLast such that no other test on
// this machine holds 127.0.N.0/24 until t and its cleanups are done. Give
// nodes addresses 127.0.N.1 to 127.0.N.253.
func Subnet(t testing.TB) int {
	t.Helper()
	return subnetOn(t, subnetLockPort)
}

var subnets struct {
	sync.Mutex
	next int // offset of the next try: a released N is not taken again at once
}

// subnetOn is Subnet with the lock on port (tests of the allocator use a
// port of their own).
func subnetOn(t testing.TB, port int) int {
	t.Helper()
	subnets.Lock()
	defer subnets.Unlock()
	span := subnetLast - subnetFirst + 1
	for i := 0; i < span; i++ {
		off := (subnets.next + i) % span
		n := subnetFirst + off
		ln, err := net.Listen("tcp4", subnetLockAddr(n, port))
		if errors.Is(err, syscall.EADDRINUSE) {
			continue // held by another test
		}
		if err != nil {
			t.Fatalf("testutil.Subnet: %v", err)
		}
		subnets.next = off + 1
		t.Cleanup(func() { ln.Close() })
		return n
	}
	t.Fatalf("testutil.Subnet: every 127.0.N.0/24, N in %d..%d, is held by a test (or port %d of 127.0.N.%d is taken)",
		subnetFirst, subnetLast, port, subnetLockHost)
	return 0
}

func subnetLockAddr(n, port int) string {
	return net.JoinHostPort(fmt.Sprintf("127.0.%d.%d", n, subnetLockHost), strconv.Itoa(port))
}
