package banned

import (
	"bytes"
	"net/netip"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/ratelog"
)

// flapLogEvery paces the "flapping detected" lines: one per peer host.
const flapLogEvery = 10 * time.Second

// Hook is the mochi hook that enforces the list at CONNECT and detects
// flapping. Add it before the authentication gate: a banned client is
// refused before it is authenticated, as in EMQX.
type Hook struct {
	mqtt.HookBase
	srv    *mqtt.Server
	zone   func(*mqtt.Client) *config.Zone
	policy config.FlappingPolicy
	flap   *Detector
	logs   *ratelog.Limiter
	log    *zap.Logger
	list   atomic.Pointer[List]
	inGate atomic.Bool // Refuse is asked by the gate, not OnConnect
}

// NewHook returns the hook for srv; zone maps a client to its zone. It
// checks nothing until SetList gives it the list.
func NewHook(srv *mqtt.Server, zone func(*mqtt.Client) *config.Zone, policy config.FlappingPolicy, log *zap.Logger) *Hook {
	return &Hook{srv: srv, zone: zone, policy: policy, flap: NewDetector(policy), logs: ratelog.New(flapLogEvery), log: log}
}

// SetList makes the hook enforce and feed l.
func (h *Hook) SetList(l *List) { h.list.Store(l) }

// ID names the hook.
func (h *Hook) ID() string { return "emqx-banned" }

var hookEvents = []byte{mqtt.OnConnect, mqtt.OnSessionEstablish}

// Provides is asked for every hook on every event: keep it a byte scan.
func (h *Hook) Provides(b byte) bool { return bytes.IndexByte(hookEvents, b) >= 0 }

func peerAddr(cl *mqtt.Client) netip.Addr {
	ap, err := netip.ParseAddrPort(cl.Net.Remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// OnConnect refuses a banned client (zone with enable_ban on): CONNACK
// 0x8A (the broker's encoder makes it 0x05 for MQTT 3.1.1).
func (h *Hook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if h.inGate.Load() {
		return nil // asked by the gate (Refuse)
	}
	return h.Refuse(cl)
}

// CheckInGate makes the gate ask Refuse once the client's id and user name
// are final (EMQX checks the banned list after peer_cert_as_* and
// use_username_as_clientid, before authentication); OnConnect then does
// nothing.
func (h *Hook) CheckInGate() { h.inGate.Store(true) }

// Refuse refuses a banned client (zone with enable_ban on) with CONNACK
// 0x8A, and returns the error that ends its connection; nil lets it on.
func (h *Hook) Refuse(cl *mqtt.Client) error {
	l := h.list.Load()
	if l == nil || cl.Net.Inline || !h.zone(cl).EnableBan {
		return nil
	}
	e, ok := l.Check(cl.ID, string(cl.Properties.Username), peerAddr(cl))
	if !ok {
		return nil
	}
	h.log.Debug("banned client refused", zap.String("client", short(cl.ID)), zap.String("remote", cl.Net.Remote),
		zap.String("who", string(e.Who)), zap.String("reason", e.Reason))
	_ = h.srv.SendConnack(cl, packets.ErrBanned, false, nil)
	return packets.ErrBanned
}

// OnSessionEstablish counts an accepted connection (authenticated, just
// before its CONNACK) and bans a flapping client id (zone with
// enable_flapping_detect on) for the policy's ban time.
func (h *Hook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	l := h.list.Load()
	if l == nil || cl.Net.Inline || !h.zone(cl).EnableFlappingDetect {
		return
	}
	n, flapping := h.flap.Connected(cl.ID)
	if !flapping {
		return
	}
	now := time.Now()
	if _, err := l.Add(Entry{Who: ClientID, Value: cl.ID, Reason: "flapping is detected", By: "flapping detector",
		At: now, Until: now.Add(h.policy.BanTime)}); err != nil {
		h.log.Error("cannot ban a flapping client", zap.String("client", short(cl.ID)), zap.Error(err))
		return
	}
	peer := peerAddr(cl)
	if h.logs.First(peer.String()) {
		h.log.Warn("flapping detected", zap.String("client", short(cl.ID)), zap.String("peer", peer.String()),
			zap.Int("connects", n), zap.Duration("window", h.policy.Window), zap.Duration("ban_time", h.policy.BanTime))
	}
}

// short cuts a client-supplied value for a log line.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
