// Package sys publishes the $SYS topics of EMQX 4.4 (emqx_sys) and its
// presence events (emqx_mod_presence), through the node's mochi server:
// an inline client's PUBLISH runs the node's hooks like any other, so the
// cluster forwards it to subscribers on other nodes and the node's
// sessions deliver it.
//
// Every broker.sys_heartbeat (not retained, QoS 0):
//
//	$SYS/brokers/<node>/uptime    "1 hours, 2 minutes, 3 seconds"
//	$SYS/brokers/<node>/datetime  "2024-01-02 03:04:05" (local time)
//
// Every broker.sys_interval (QoS 0):
//
//	$SYS/brokers                  the running nodes, comma separated (retained)
//	$SYS/brokers/<node>/version   (retained)
//	$SYS/brokers/<node>/sysdescr  "EMQX" (retained)
//	$SYS/brokers/<node>/stats/<name>    what SetStats' function returns
//	$SYS/brokers/<node>/metrics/<name>  what SetMetrics' returns, dots
//	                                    in names made levels
//
// As in EMQX, the first of each comes one interval after Start; an
// interval of 0 turns its topics off.
//
// Presence (presence.go): $SYS/brokers/<node>/clients/<clientid>/connected
// and /disconnected, JSON, at module.presence.qos, not retained.
package sys

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"emqxgo/internal/ratelog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// Description is EMQX's sysdescr (the emqx application's description)
// when EMQX_DESCRIPTION does not set it.
const Description = "EMQX"

// Sysdescr is emqx_app:get_description(): EMQX_DESCRIPTION if set
// (newlines around it taken off, "EMQ X" written "EMQX"), else
// Description.
func Sysdescr() string {
	if d := os.Getenv("EMQX_DESCRIPTION"); d != "" {
		return strings.ReplaceAll(strings.Trim(d, "\n"), "EMQ X", "EMQX")
	}
	return Description
}

// Config is what the publisher needs of the node.
type Config struct {
	Node      string        // the node's name, as in the topics
	Version   string        // $SYS/brokers/<node>/version
	Interval  time.Duration // broker.sys_interval; 0: off
	Heartbeat time.Duration // broker.sys_heartbeat; 0: off
	// Nodes lists the running nodes of the cluster ($SYS/brokers); nil:
	// the node alone.
	Nodes func() []string
	// Presence turns the presence events on, at PresenceQoS.
	Presence    bool
	PresenceQoS byte
	// SessionExpiry is the session expiry of an MQTT 3 client that
	// connected with clean session off (its zone's
	// session_expiry_interval); nil: 0.
	SessionExpiry func(cl *mqtt.Client) time.Duration
}

// Publisher publishes the $SYS topics and presence events of one node.
type Publisher struct {
	srv     *mqtt.Server
	cfg     Config
	log     *zap.Logger
	started time.Time
	prefix  string // $SYS/brokers/<node>/

	// mu serializes the publishes of the inline client: the hooks keep
	// per-publisher notes (the cluster's choice of shared members) between
	// OnPublish and OnPublished.
	mu  sync.Mutex
	cl  *mqtt.Client
	hmu sync.Mutex // guards stats, metrics
	// stats and metrics are the figures published at sys_interval.
	stats   func() map[string]int64
	metrics func() map[string]uint64

	presence *presenceHook
	// events are presence events waiting for the worker (Start): they are
	// published off the connecting client's goroutine, whose stack would
	// otherwise grow with the whole publish path and stay grown while the
	// client is idle. Full: dropped, counted (Dropped) and logged.
	events  chan event
	dropped atomic.Int64
	logs    *ratelog.Limiter

	startOnce, stopOnce sync.Once
	done                chan struct{}
	wg                  sync.WaitGroup
}

// New builds the publisher and, with presence on, adds its hook to srv
// (call before srv serves clients); Start starts the timers.
func New(srv *mqtt.Server, cfg Config, log *zap.Logger) (*Publisher, error) {
	p := &Publisher{srv: srv, cfg: cfg, log: log, started: time.Now(), prefix: "$SYS/brokers/" + cfg.Node + "/",
		done: make(chan struct{}), events: make(chan event, eventQueue), logs: ratelog.New(10 * time.Second)}
	// An inline client of its own, named as in EMQX's messages (from
	// emqx_sys); "$" keeps it apart from every network client.
	p.cl = srv.NewClient(nil, "local", "$sys:"+cfg.Node, true)
	p.cl.Properties.ProtocolVersion = 5
	if cfg.Presence {
		p.presence = &presenceHook{p: p, conns: map[*mqtt.Client]int64{}}
		if err := srv.AddHook(p.presence, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// SetStats makes fn the source of $SYS/brokers/<node>/stats/<name>.
func (p *Publisher) SetStats(fn func() map[string]int64) {
	p.hmu.Lock()
	p.stats = fn
	p.hmu.Unlock()
}

// SetMetrics makes fn the source of $SYS/brokers/<node>/metrics/<name>
// (the dots of a name are levels: messages.received is
// metrics/messages/received).
func (p *Publisher) SetMetrics(fn func() map[string]uint64) {
	p.hmu.Lock()
	p.metrics = fn
	p.hmu.Unlock()
}

// Start starts the timers (once; not after Stop).
func (p *Publisher) Start() {
	p.startOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.wg.Add(1)
		go p.work()
		if p.cfg.Heartbeat > 0 {
			p.every(p.cfg.Heartbeat, p.heartbeat)
		}
		if p.cfg.Interval > 0 {
			p.every(p.cfg.Interval, p.tick)
		}
	})
}

func (p *Publisher) every(d time.Duration, fn func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// Stop stops the timers and the presence events and waits for a publish
// under way; it is safe to call twice.
func (p *Publisher) Stop() {
	p.stopOnce.Do(func() {
		close(p.done)
		p.wg.Wait()
	})
}

func (p *Publisher) stopped() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// eventQueue is how many presence events may wait for the worker.
const eventQueue = 8192

// event is one presence event: its topic and what its JSON encodes.
type event struct {
	topic string
	v     any
}

// enqueue hands a presence event to the worker; a full queue drops it,
// counted and logged at most once every 10 s.
func (p *Publisher) enqueue(e event) {
	select {
	case p.events <- e:
	default:
		n := p.dropped.Add(1)
		if p.logs.First("presence") {
			p.log.Warn("presence events dropped: the queue to publish them is full", zap.Int64("dropped", n))
		}
	}
}

// Dropped is the number of presence events dropped on a full queue.
func (p *Publisher) Dropped() int64 { return p.dropped.Load() }

// work publishes the presence events in order; on Stop it publishes those
// already queued, then ends.
func (p *Publisher) work() {
	defer p.wg.Done()
	for {
		select {
		case e := <-p.events:
			p.publishEvent(e)
		case <-p.done:
			for {
				select {
				case e := <-p.events:
					p.publishEvent(e)
				default:
					return
				}
			}
		}
	}
}

func (p *Publisher) publishEvent(e event) {
	payload, err := json.Marshal(e.v)
	if err != nil {
		p.log.Error("cannot encode a presence event", zap.String("topic", e.topic), zap.Error(err))
		return
	}
	p.publish(e.topic, payload, false, p.cfg.PresenceQoS)
}

// heartbeat publishes uptime and datetime.
func (p *Publisher) heartbeat() {
	p.publish(p.prefix+"uptime", []byte(Uptime(time.Since(p.started))), false, 0)
	p.publish(p.prefix+"datetime", []byte(time.Now().Format(time.DateTime)), false, 0)
}

// tick publishes version, sysdescr, the node list, stats and metrics.
func (p *Publisher) tick() {
	p.publish(p.prefix+"version", []byte(p.cfg.Version), true, 0)
	p.publish(p.prefix+"sysdescr", []byte(Sysdescr()), true, 0)
	nodes := []string{p.cfg.Node}
	if p.cfg.Nodes != nil {
		nodes = p.cfg.Nodes()
	}
	p.publish("$SYS/brokers", []byte(strings.Join(nodes, ",")), true, 0)
	p.hmu.Lock()
	stats, metrics := p.stats, p.metrics
	p.hmu.Unlock()
	if stats != nil {
		m := stats()
		for _, k := range sortedKeys(m) {
			if p.stopped() {
				return
			}
			p.publish(p.prefix+"stats/"+k, strconv.AppendInt(nil, m[k], 10), false, 0)
		}
	}
	if metrics != nil {
		m := metrics()
		for _, k := range sortedKeys(m) {
			if p.stopped() {
				return
			}
			p.publish(p.prefix+"metrics/"+strings.ReplaceAll(k, ".", "/"), strconv.AppendUint(nil, m[k], 10), false, 0)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// publish injects one PUBLISH through the inline client (EMQX's
// safe_publish: a failure is logged, never raised).
func (p *Publisher) publish(topic string, payload []byte, retain bool, qos byte) {
	if !mqtt.IsValidFilter(topic, false) || strings.ContainsAny(topic, "+#") {
		p.log.Debug("$SYS topic not published: not a valid topic name", zap.String("topic", topic))
		return
	}
	p.inject(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName:   topic,
		Payload:     payload,
		PacketID:    uint16(qos), // mochi's check wants one on QoS 1/2; the inline client acknowledges nothing
	})
}

// PublishSys publishes payload on $SYS/brokers/<node>/<sub>, QoS 0, not
// retained, with an MQTT 5 content type (emqx_alarm's alarms/activate
// and alarms/deactivate: application/json).
func (p *Publisher) PublishSys(sub string, payload []byte, contentType string) {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: p.prefix + sub, Payload: payload}
	pk.Properties.ContentType = contentType
	p.inject(pk)
}

func (p *Publisher) inject(pk packets.Packet) {
	topic := pk.TopicName
	p.mu.Lock()
	err := p.srv.InjectPacket(p.cl, pk)
	p.mu.Unlock()
	if err != nil {
		p.log.Warn("cannot publish a $SYS message", zap.String("topic", topic), zap.Error(err))
	}
}

// Uptime is EMQX's uptime text: the non-zero leading units of days,
// hours, minutes and seconds ("2 hours, 0 minutes, 5 seconds"; under a
// second: "").
func Uptime(d time.Duration) string {
	s := int64(d / time.Second)
	parts := []struct {
		n    int64
		unit string
	}{{s / 86400, " days"}, {s % 86400 / 3600, " hours"}, {s % 3600 / 60, " minutes"}, {s % 60, " seconds"}}
	var out []string
	for _, x := range parts {
		if len(out) == 0 && x.n == 0 {
			continue
		}
		out = append(out, fmt.Sprint(x.n, x.unit))
	}
	return strings.Join(out, ", ")
}
