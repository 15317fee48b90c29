package broker

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

func TestReplvar(t *testing.T) {
	for _, c := range []struct {
		mp, id, user string
		hasUser      bool
		want         string
	}{
		{"devicebound/", "c1", "", false, "devicebound/"},
		{"dev/%c/", "c1", "", false, "dev/c1/"},
		{"dev/%u/%c/", "c1", "u1", true, "dev/u1/c1/"},
		{"dev/%u/", "c1", "", false, "dev/%u/"}, // no user name: %u stays (EMQX)
		{"dev/%c-x/", "c1", "", false, "dev/%c-x/"},
	} {
		if got := replvar(c.mp, c.id, c.user, c.hasUser); got != c.want {
			t.Errorf("replvar(%q) = %q, want %q", c.mp, got, c.want)
		}
	}
	for f, want := range map[string]string{"t": "m/t", "$share/g/t/#": "$share/g/m/t/#", "$queue/t": "$queue/m/t"} {
		if got := mountFilter("m/", f); got != want {
			t.Errorf("mountFilter(%q) = %q, want %q", f, got, want)
		}
		if back := unmountFilter("m/", want); back != f {
			t.Errorf("unmountFilter(%q) = %q, want %q", want, back, f)
		}
	}
}

// TestMountpoint: a client's PUBLISH topics and SUBSCRIBE filters get its
// zone's mountpoint, and what it is sent loses it.
func TestMountpoint(t *testing.T) {
	cfg := testConfig("zone.external.mountpoint = dev/%c/",
		"listener.tcp.internal = 127.0.0.1:0", "listener.tcp.internal.zone = internal")
	b := startBroker(t, cfg)
	ext, in := b.Addrs()["tcp:external"], b.Addrs()["tcp:internal"]
	other := testutil.DialV5(t, in, "other")
	other.Sub(t, "dev/c1/t", 1)
	other.Sub(t, "dev/c1/retained", 1)
	c1 := testutil.DialV5(t, ext, "c1")
	c1.Sub(t, "t", 1)
	c1.Sub(t, "$share/g/s", 1)

	c1.Pub(t, "t", 1, []byte("from c1"))
	other.Expect(t, "dev/c1/t", []byte("from c1"))
	c1.Expect(t, "t", []byte("from c1")) // its own subscription: the mounted topic, unmounted

	other.Pub(t, "dev/c1/t", 1, []byte("to c1"))
	c1.Expect(t, "t", []byte("to c1"))
	other.Expect(t, "dev/c1/t", []byte("to c1"))
	other.Pub(t, "dev/c1/s", 1, []byte("shared"))
	c1.Expect(t, "s", []byte("shared"))
	other.Pub(t, "t", 1, []byte("not mounted"))

	// Retained: stored under the mounted topic, sent unmounted.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c1.Publish(ctx, &paho.Publish{Topic: "retained", QoS: 1, Retain: true, Payload: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	other.Expect(t, "dev/c1/retained", []byte("r"))
	c2 := testutil.DialV5(t, ext, "c2")
	c2.Sub(t, "#", 1) // dev/c2/#: not c1's
	late := testutil.DialV5(t, in, "late")
	late.Sub(t, "dev/+/retained", 1)
	late.Expect(t, "dev/c1/retained", []byte("r"))

	// Unsubscribe is mounted too.
	if _, err := c1.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	other.Pub(t, "dev/c1/t", 1, []byte("after unsubscribe"))
	other.Expect(t, "dev/c1/t", []byte("after unsubscribe"))
	select {
	case m := <-c1.Msgs:
		t.Fatalf("c1 got %s %q", m.Topic, m.Payload)
	case m := <-c2.Msgs:
		t.Fatalf("c2 got %s %q", m.Topic, m.Payload)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestResponseInformation: zone.<name>.response_information is in CONNACK
// for an MQTT 5 client that asks for it, only then.
func TestResponseInformation(t *testing.T) {
	b := startBroker(t, testConfig("mqtt.response_information = example/"))
	addr := b.Addrs()["tcp"]
	v, err := testutil.TryConnectV5(addr, &paho.Connect{ClientID: "ri", CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{RequestResponseInfo: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Disconnect(&paho.Disconnect{})
	if p := v.Connack.Properties; p == nil || p.ResponseInfo != "example/" {
		t.Fatalf("CONNACK Response Information: %+v, want example/", p)
	}
	w := testutil.DialV5(t, addr, "no-ri")
	if p := w.Connack.Properties; p != nil && p.ResponseInfo != "" {
		t.Fatalf("CONNACK Response Information %q without asking", p.ResponseInfo)
	}
}

func subCodes(t *testing.T, v *testutil.V5, filter string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := v.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err != nil && sa == nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 {
		t.Fatalf("subscribe %s: %v", filter, sa.Reasons)
	}
	return sa.Reasons[0]
}

// TestExclusiveSubscription: $exclusive/<topic> is granted to one client
// at a time (0x97 to the others) until it unsubscribes or its session
// ends; with mqtt.exclusive_subscription off it is 0x8F.
func TestExclusiveSubscription(t *testing.T) {
	b := startBroker(t, testConfig("mqtt.exclusive_subscription = true"))
	addr := b.Addrs()["tcp"]
	a, c := testutil.DialV5(t, addr, "a"), testutil.DialV5(t, addr, "c")
	if code := subCodes(t, a, "$exclusive/x/y"); code != 1 {
		t.Fatalf("first $exclusive/x/y: 0x%02X, want 1", code)
	}
	if code := subCodes(t, c, "$exclusive/x/y"); code != 0x97 {
		t.Fatalf("second $exclusive/x/y: 0x%02X, want 0x97", code)
	}
	if code := subCodes(t, a, "$exclusive/x/y"); code != 1 {
		t.Fatalf("the holder again: 0x%02X, want 1", code)
	}
	c.Sub(t, "x/y", 1) // an ordinary subscription to the topic
	c.Pub(t, "x/y", 1, []byte("m"))
	a.Expect(t, "x/y", []byte("m"))
	c.Expect(t, "x/y", []byte("m"))
	if h := b.Exclusive("x/y"); h != "a" {
		t.Fatalf("holder %q, want a", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"$exclusive/x/y"}}); err != nil {
		t.Fatal(err)
	}
	if code := subCodes(t, c, "$exclusive/x/y"); code != 1 {
		t.Fatalf("after the holder unsubscribed: 0x%02X, want 1", code)
	}
	// The holder's session ends: freed.
	_ = c.Disconnect(&paho.Disconnect{})
	testutil.Eventually(t, 5*time.Second, "freed", func() bool { return b.Exclusive("x/y") == "" })
	if code := subCodes(t, a, "$exclusive/x/y"); code != 1 {
		t.Fatalf("after the holder left: 0x%02X, want 1", code)
	}
	if code := subCodes(t, a, "$exclusive/"); code != 0x8F {
		t.Fatalf("$exclusive/: 0x%02X, want 0x8F", code)
	}

	off := startBroker(t, testConfig())
	o := testutil.DialV5(t, off.Addrs()["tcp"], "o")
	if code := subCodes(t, o, "$exclusive/x/y"); code != 0x8F {
		t.Fatalf("exclusive_subscription off: 0x%02X, want 0x8F", code)
	}
}
