package broker

import (
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/ratelog"
)

// force_shutdown_policy "<messages>|<bytes>": EMQX closes a connection
// whose Erlang process mailbox holds more than <messages> messages, or
// whose heap passes <bytes>, with reason proc_message_queue_too_long
// (proc_heap_too_large). Here the messages are the session's queue of
// messages not sent yet (session.go): a connection whose queue grows past
// MaxMessageQueue is sent DISCONNECT 0x97 Quota exceeded (MQTT 5) and
// closed; its session stays as its expiry says. The byte part has no
// counterpart in Go (goroutines have no heap of their own) and is
// accepted and not applied; max_mqueue_len bounds what a session holds.

// shutdownLogEvery: one log line per client at most this often.
const shutdownLogEvery = 10 * time.Second

type forceShutdowns struct {
	b      *Broker
	count  atomic.Int64
	active sync.Map // *mqtt.Client -> being closed
	logs   *ratelog.Limiter
}

func (fs *forceShutdowns) init(b *Broker) {
	fs.b, fs.logs = b, ratelog.New(shutdownLogEvery)
	for _, z := range b.cfg.Zones {
		if z.ForceShutdownPolicy.MaxMessageQueue > 0 {
			b.sessions.overQueue = fs.check
			return
		}
	}
}

// check closes cl if its queue of queued messages is over its zone's
// policy. It runs under the session's lock: the closing is a goroutine's.
func (fs *forceShutdowns) check(cl *mqtt.Client, queued int) {
	max := fs.b.Zone(cl).ForceShutdownPolicy.MaxMessageQueue
	if max <= 0 || queued <= max || cl.Net.Inline || cl.Closed() {
		return
	}
	if _, busy := fs.active.LoadOrStore(cl, true); busy {
		return
	}
	fs.count.Add(1)
	if fs.logs.First(cl.ID) {
		fs.b.log.Warn("connection closed: message queue too long (force_shutdown_policy)",
			zap.String("client", cl.ID), zap.String("reason", "proc_message_queue_too_long"),
			zap.Int("queued", queued), zap.Int("max_message_queue", max))
	}
	go func() {
		defer fs.active.Delete(cl)
		if c, ok := cl.Net.Conn.(*conn); ok {
			// Bounded: a client that does not read must not hold the
			// DISCONNECT (or a write of the session's) up.
			_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			if cl.Properties.ProtocolVersion == 5 {
				c.disconnect(packets.ErrQuotaExceeded.Code)
			}
		}
		cl.Stop(packets.ErrQuotaExceeded)
	}()
}

// ForcedShutdowns counts, since start, connections closed by
// force_shutdown_policy.
func (b *Broker) ForcedShutdowns() int64 { return b.shutdowns.count.Load() }
