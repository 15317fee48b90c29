package sys

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// presenceHook publishes EMQX's presence events (emqx_mod_presence, on by
// default in EMQX 4.4's loaded_modules) for the network clients of this
// node: connected once the CONNACK went out, disconnected when the
// connection ends.
type presenceHook struct {
	mqtt.HookBase
	p *Publisher

	// conns: when each connected client's connected event was made (unix
	// ms); the rest of the disconnected event is read from the client.
	mu    sync.Mutex
	conns map[*mqtt.Client]int64
}

// presenceInfo is what both events carry (EMQX's common_infos).
type presenceInfo struct {
	ClientID    string `json:"clientid"`
	Username    string `json:"username"`
	IPAddress   string `json:"ipaddress"`
	SockPort    int    `json:"sockport"`
	ProtoName   string `json:"proto_name"`
	ProtoVer    byte   `json:"proto_ver"`
	ConnectedAt int64  `json:"connected_at"` // unix ms
	TS          int64  `json:"ts"`           // unix ms, when published
}

type connectedEvent struct {
	*presenceInfo
	Connack        int   `json:"connack"`
	Keepalive      int   `json:"keepalive"`
	CleanStart     bool  `json:"clean_start"`
	ExpiryInterval int64 `json:"expiry_interval"` // seconds
}

type disconnectedEvent struct {
	*presenceInfo
	Reason         string `json:"reason"`
	DisconnectedAt int64  `json:"disconnected_at"` // unix ms
}

func (h *presenceHook) ID() string { return "emqx-presence" }

func (h *presenceHook) Provides(b byte) bool {
	return bytes.IndexByte([]byte{mqtt.OnSessionEstablished, mqtt.OnDisconnect}, b) >= 0
}

// OnSessionEstablished publishes .../clients/<clientid>/connected.
func (h *presenceHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || h.p.stopped() {
		return
	}
	now := time.Now().UnixMilli()
	info := infoOf(cl, now)
	h.mu.Lock()
	h.conns[cl] = now
	h.mu.Unlock()
	ev := connectedEvent{presenceInfo: info, Keepalive: int(pk.Connect.Keepalive), CleanStart: pk.Connect.Clean}
	switch {
	case cl.Properties.ProtocolVersion == 5:
		ev.ExpiryInterval = int64(cl.Properties.Props.SessionExpiryInterval)
	case !pk.Connect.Clean && h.p.cfg.SessionExpiry != nil:
		ev.ExpiryInterval = int64(h.p.cfg.SessionExpiry(cl) / time.Second)
	}
	ev.TS = time.Now().UnixMilli()
	h.publish(cl.ID, "connected", ev)
}

// OnDisconnect publishes .../clients/<clientid>/disconnected, once per
// connected event.
func (h *presenceHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	h.mu.Lock()
	at, ok := h.conns[cl]
	delete(h.conns, cl)
	h.mu.Unlock()
	if !ok || h.p.stopped() {
		return
	}
	if cause := cl.StopCause(); cause != nil {
		err = cause
	}
	now := time.Now().UnixMilli()
	info := infoOf(cl, at)
	info.TS = now
	h.publish(cl.ID, "disconnected", disconnectedEvent{presenceInfo: info, Reason: Reason(err), DisconnectedAt: now})
}

// infoOf is what both events of cl carry (EMQX's common_infos), for a
// client connected at connectedAt (unix ms).
func infoOf(cl *mqtt.Client, connectedAt int64) *presenceInfo {
	info := &presenceInfo{
		ClientID:    cl.ID,
		Username:    string(cl.Properties.Username),
		ProtoName:   "MQTT",
		ProtoVer:    cl.Properties.ProtocolVersion,
		ConnectedAt: connectedAt,
	}
	if cl.Properties.ProtocolVersion == 3 {
		info.ProtoName = "MQIsdp"
	}
	if len(cl.Properties.Username) == 0 {
		info.Username = "undefined" // EMQX's username of a client without one
	}
	if host, _, err := net.SplitHostPort(cl.Net.Remote); err == nil {
		info.IPAddress = host
	} else {
		info.IPAddress = cl.Net.Remote
	}
	if cl.Net.Conn != nil {
		if a := cl.Net.Conn.LocalAddr(); a != nil {
			if _, port, err := net.SplitHostPort(a.String()); err == nil {
				info.SockPort, _ = strconv.Atoi(port)
			}
		}
	}
	return info
}

func (h *presenceHook) publish(clientID, name string, v any) {
	h.p.enqueue(event{topic: h.p.prefix + "clients/" + clientID + "/" + name, v: v})
}

// Reason is the reason of a disconnected event, named as EMQX names it,
// for why mochi ended a connection.
func Reason(err error) string {
	var code packets.Code
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF):
		return "tcp_closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "keepalive_timeout"
	case errors.As(err, &code):
		switch code.Code {
		case packets.CodeDisconnect.Code:
			return "normal"
		case packets.ErrSessionTakenOver.Code:
			return "takeovered"
		case packets.ErrAdministrativeAction.Code:
			return "kicked"
		}
		if n, ok := reasonNames[code.Code]; ok {
			return n
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "keepalive_timeout"
	}
	return "internal_error"
}

// reasonNames are EMQX's names of MQTT 5 reason codes (emqx_reason_codes).
var reasonNames = map[byte]string{
	0x04: "disconnect_with_will_message",
	0x80: "unspecified_error", 0x81: "malformed_packet", 0x82: "protocol_error",
	0x83: "implementation_specific_error", 0x84: "unsupported_protocol_version",
	0x85: "client_identifier_not_valid", 0x86: "bad_username_or_password", 0x87: "not_authorized",
	0x88: "server_unavailable", 0x89: "server_busy", 0x8A: "banned", 0x8B: "server_shutting_down",
	0x8C: "bad_authentication_method", 0x8D: "keepalive_timeout", 0x8E: "session_taken_over",
	0x8F: "topic_filter_invalid", 0x90: "topic_name_invalid", 0x91: "packet_identifier_inuse",
	0x92: "packet_identifier_not_found", 0x93: "receive_maximum_exceeded", 0x94: "topic_alias_invalid",
	0x95: "packet_too_large", 0x96: "message_rate_too_high", 0x97: "quota_exceeded",
	0x98: "administrative_action", 0x99: "payload_format_invalid", 0x9A: "retain_not_supported",
	0x9B: "qos_not_supported", 0x9C: "use_another_server", 0x9D: "server_moved",
	0x9E: "shared_subscriptions_not_supported", 0x9F: "connection_rate_exceeded",
	0xA0: "maximum_connect_time", 0xA1: "subscription_identifiers_not_supported",
	0xA2: "wildcard_subscriptions_not_supported",
}
