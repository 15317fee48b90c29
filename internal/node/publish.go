package node

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/broker"
	"emqxgo/internal/metrics"
	"emqxgo/internal/mgmt"
)

// POST /api/v4/mqtt/publish and /mqtt/publish_batch, as EMQX 4.4's
// emqx_mgmt_api_pubsub: a message published into the cluster as a
// client of this node would, through the same hooks (so the peers'
// subscribers get it, and a retained one is kept cluster-wide), without
// the ACL (emqx:publish checks none). Each counts in messages.received and
// messages.qos<n>.received, as emqx_mgmt:publish counts it.
//
// The body's fields: topic (or topics, comma separated; names that are
// not valid topic names are left out, and none left is code 115),
// clientid (the message's publisher), payload (with encoding "base64",
// decoded; anything but a string is sent as its JSON text), qos (0: a
// value that is not 0, 1 or 2 is code 116 bad_qos: EMQX's handler crashes
// there, with HTTP 500 and no word of why), retain (true only), properties (payload_format_indicator,
// message_expiry_interval, response_topic, correlation_data,
// user_properties, content_type, subscription_identifier (ignored)) and
// user_properties (the older place). Anything else wrong is code 108
// bad_params. With "return" the answer has the message id ("msgid"; with
// topics every one, "msgids"). Query parameters count as body fields and
// come first, as in minirest.

// apiPubMu serializes the API's publishes: the cluster's hook keeps its
// choice of shared-group members by publisher between the hooks of one
// PUBLISH.
var apiPubMu sync.Mutex

// param is one field of a request, in order.
type param struct {
	key string
	val json.RawMessage
}

// params are a request's fields: the query's first, then the body
// object's, in order; the first of a name counts (proplists:get_value).
type params []param

func (ps params) get(key string) (json.RawMessage, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.val, true
		}
	}
	return nil, false
}

// errNotJSON: the body is no JSON (minirest answers 400 Bad Request).
var errNotJSON = errors.New("not json")

// badRequest is minirest's answer to a body it cannot read.
var badRequest = mgmt.Raw{ContentType: "text/plain", Status: http.StatusBadRequest, Body: []byte("Bad Request")}

// Where EMQX's handler crashes (HTTP 500, no body), the node answers with
// the error code that says what is wrong instead.
var (
	errBadQoS      = mgmt.Errorf(mgmt.CodeBadQoS, "bad_qos")
	errBadParamsAt = mgmt.Errorf(mgmt.CodeParamType, "bad_params")
)

// queryParams are the request's query parameters, as JSON strings.
func queryParams(r *mgmt.Request) params {
	var ps params
	for k, vs := range r.R.URL.Query() {
		if len(vs) > 0 {
			b, _ := json.Marshal(vs[0])
			ps = append(ps, param{k, b})
		}
	}
	return ps
}

// requestBody is the body's JSON value (nil: no body), or errNotJSON.
func requestBody(r *mgmt.Request) (json.RawMessage, error) {
	b := bytes.TrimSpace(r.Body)
	if len(b) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, errNotJSON
	}
	return b, nil
}

// objectPairs are the fields of a JSON object in order; ok false when v
// is no object.
func objectPairs(v json.RawMessage) (params, bool) {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	ps := params{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, false
		}
		k, _ := t.(string)
		var val json.RawMessage
		if err := d.Decode(&val); err != nil {
			return nil, false
		}
		ps = append(ps, param{k, val})
	}
	return ps, true
}

// arrayItems are the elements of a JSON array; ok false when v is none.
func arrayItems(v json.RawMessage) ([]json.RawMessage, bool) {
	var items []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
		return nil, false
	}
	return items, true
}

// jsonInt is v if it is an integer literal.
func jsonInt(v json.RawMessage) (int64, bool) {
	s := string(v)
	if strings.ContainsAny(s, ".eE") {
		return 0, false
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
}

// apiMessage is a publish request read.
type apiMessage struct {
	clientID string
	topics   []string
	qos      json.RawMessage // nil: 0
	retain   bool
	payload  []byte
	props    packets.Properties
}

// errBadParams: the request's fields cannot be read (108 bad_params).
var errBadParams = errors.New("bad_params")

// readPublish is emqx_mgmt_api_pubsub's parse_publish_params.
func readPublish(ps params) (apiMessage, error) {
	var m apiMessage
	raw, ok := ps.get("topic")
	if !ok {
		raw, ok = ps.get("topics")
	}
	list := ""
	if ok {
		s, isStr := jsonString(raw)
		if !isStr {
			return m, errBadParams
		}
		list = s
	}
	for _, t := range strings.Split(list, ",") {
		if validTopicName(t) {
			m.topics = append(m.topics, t)
		}
	}
	encoding := "plain"
	if v, ok := ps.get("encoding"); ok {
		if s, ok := jsonString(v); ok {
			encoding = s
		}
	}
	if v, ok := ps.get("payload"); ok {
		s, isStr := jsonString(v)
		switch {
		case encoding == "base64" && !isStr:
			return m, errBadParams
		case encoding == "base64":
			b, err := decodeBase64(s)
			if err != nil {
				return m, errBadParams
			}
			m.payload = b
		case isStr:
			m.payload = []byte(s)
		default: // a JSON value: sent as JSON text
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return m, errBadParams
			}
			m.payload = buf.Bytes()
		}
	}
	m.qos, _ = ps.get("qos")
	if v, ok := ps.get("retain"); ok {
		m.retain = string(v) == "true"
	}
	if err := readProperties(ps, &m.props); err != nil {
		return m, err
	}
	if v, ok := ps.get("clientid"); ok {
		s, isStr := jsonString(v)
		if !isStr {
			return m, errBadClientID
		}
		m.clientID = s
	}
	return m, nil
}

// errBadClientID: clientid is not a string (108).
var errBadClientID = errors.New("bad clientid: must be string")

// decodeBase64 is base64:decode: standard alphabet with padding,
// whitespace skipped.
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s))
}

// validTopicName is emqx_topic:validate({name, T}): not empty, at most
// 65535 bytes, without wildcards or NUL.
func validTopicName(t string) bool {
	return t != "" && len(t) <= 65535 && !strings.ContainsAny(t, "#+\x00")
}

// readProperties is parse_props: properties' fields by their names, and
// the user properties of user_properties then of properties.user_properties.
func readProperties(ps params, p *packets.Properties) error {
	var user, nested []packets.UserProperty
	if v, ok := ps.get("user_properties"); ok {
		u, err := userProperties(v)
		if err != nil {
			return err
		}
		user = u
	}
	if v, ok := ps.get("properties"); ok {
		fields, isObj := objectPairs(v)
		items, isArr := arrayItems(v)
		switch {
		case isArr && len(items) == 0: // none
		case !isObj || len(fields) == 0: // {} is [{}] to EMQX: not a property
			return errBadParams
		}
		for _, f := range fields {
			var ok bool
			switch f.key {
			case "payload_format_indicator":
				var i int64
				i, ok = jsonInt(f.val)
				ok = ok && (i == 0 || i == 1)
				p.PayloadFormat, p.PayloadFormatFlag = byte(i), true
			case "message_expiry_interval":
				var i int64
				i, ok = jsonInt(f.val)
				ok = ok && i >= 0 && i <= math.MaxUint32
				p.MessageExpiryInterval = uint32(i)
			case "response_topic":
				p.ResponseTopic, ok = jsonString(f.val)
				ok = ok && validTopicName(p.ResponseTopic)
			case "correlation_data":
				var s string
				s, ok = jsonString(f.val)
				p.CorrelationData = []byte(s)
			case "content_type":
				p.ContentType, ok = jsonString(f.val)
			case "subscription_identifier":
				// Set by the broker per subscription: a PUBLISH to it has none.
				_, ok = jsonInt(f.val)
			case "user_properties":
				var err error
				nested, err = userProperties(f.val)
				ok = err == nil
			}
			if !ok {
				return errBadParams
			}
		}
	}
	p.User = append(user, nested...) // after the top-level ones, as EMQX
	return nil
}

// userProperties is generate_user_props: an object's fields in order
// (an empty array: none), each value a string, number or boolean.
func userProperties(v json.RawMessage) ([]packets.UserProperty, error) {
	if items, ok := arrayItems(v); ok && len(items) == 0 {
		return nil, nil
	}
	fields, ok := objectPairs(v)
	if !ok || len(fields) == 0 {
		return nil, errBadParams
	}
	out := make([]packets.UserProperty, 0, len(fields))
	for _, f := range fields {
		s, ok := userValue(f.val)
		if !ok {
			return nil, errBadParams
		}
		out = append(out, packets.UserProperty{Key: f.key, Val: s})
	}
	return out, nil
}

// userValue is bin/1 of a user property's value: a string as it is, an
// integer in decimal, a float as float_to_binary(F, [{decimals, 17},
// compact]), true or false.
func userValue(v json.RawMessage) (string, bool) {
	if s, ok := jsonString(v); ok {
		return s, true
	}
	switch t := string(v); {
	case t == "true" || t == "false":
		return t, true
	case t == "null" || t == "" || t[0] == '{' || t[0] == '[':
		return "", false
	case !strings.ContainsAny(t, ".eE"):
		return t, true
	default:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return "", false
		}
		s := strconv.FormatFloat(f, 'f', 17, 64)
		s = strings.TrimRight(s, "0")
		if strings.HasSuffix(s, ".") {
			s += "0"
		}
		return s, true
	}
}

// apiQoS is the message's QoS: false when EMQX's emqx_message:make (or
// its metrics) would crash on it.
func apiQoS(v json.RawMessage) (byte, bool) {
	if v == nil {
		return 0, true
	}
	i, ok := jsonInt(v)
	return byte(i), ok && i >= 0 && i <= 2
}

// publishResult is do_publish's answer for one request.
type publishResult struct {
	code    int    // 0, 108 or 115
	message string // with a code
	ids     []string
	badQoS  bool // EMQX crashes (HTTP 500); code 116 here
}

// publishFields publishes what ps asks (emqx_mgmt_api_pubsub do_publish).
func (n *Node) publishFields(ps params) publishResult {
	m, err := readPublish(ps)
	switch {
	case errors.Is(err, errBadClientID):
		return publishResult{code: mgmt.CodeParamType, message: err.Error()}
	case err != nil:
		return publishResult{code: mgmt.CodeParamType, message: "bad_params"}
	case len(m.topics) == 0:
		return publishResult{code: mgmt.CodeBadTopic, message: "bad_topic"}
	}
	qos, ok := apiQoS(m.qos)
	if !ok {
		return publishResult{badQoS: true}
	}
	return publishResult{ids: n.publishAPI(m, qos)}
}

// publishAPI publishes m on each of its topics through an inline client
// named as the message's publisher; it returns the messages' ids.
func (n *Node) publishAPI(m apiMessage, qos byte) []string {
	id := m.clientID
	if strings.HasPrefix(id, broker.ReservedClientIDPrefix) {
		id = "" // the cluster's own clients' prefix: it would not be forwarded
	}
	srv := n.broker.Server()
	apiPubMu.Lock()
	defer apiPubMu.Unlock()
	cl := srv.NewClient(nil, "local", id, true)
	cl.Properties.ProtocolVersion = 5
	ids := make([]string, 0, len(m.topics))
	for _, t := range m.topics {
		pk := packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: m.retain},
			TopicName:   t,
			Payload:     m.payload,
			Properties:  m.props,
		}
		pk.Properties.User = append([]packets.UserProperty(nil), m.props.User...)
		if qos > 0 {
			pk.PacketID = 1 // mochi's check wants one; the inline client acknowledges nothing
		}
		n.broker.Metrics().Inc(metrics.PublishReceived[qos])
		if err := srv.InjectPacket(cl, pk); err != nil {
			n.log.Warn("HTTP API publish failed", zap.String("topic", t), zap.Error(err))
		}
		ids = append(ids, guidHex())
	}
	return ids
}

var (
	guidSeq  atomic.Uint32
	guidNode = func() uint32 {
		h := fnv.New32a()
		host, _ := os.Hostname()
		_, _ = h.Write([]byte(host))
		return h.Sum32()
	}()
)

// guidHex is a message id as emqx_guid writes one: 128 bits (time in
// microseconds, the node, the process, a sequence) in 32 upper-case hex
// digits.
func guidHex() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMicro()))
	binary.BigEndian.PutUint32(b[8:12], guidNode)
	binary.BigEndian.PutUint16(b[12:14], uint16(os.Getpid()))
	binary.BigEndian.PutUint16(b[14:16], uint16(guidSeq.Add(1)))
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func init() {
	registerAPI("POST /mqtt/publish", func(n *Node, r *mgmt.Request) (any, error) {
		ps, err := publishParams(r)
		if err != nil {
			return badRequest, nil
		}
		if ps == nil {
			return nil, mgmt.Errorf(mgmt.CodeParamType, "bad_params")
		}
		res := n.publishFields(ps)
		switch {
		case res.badQoS:
			return nil, errBadQoS
		case res.code != 0:
			return nil, mgmt.Errorf(res.code, "%s", res.message)
		}
		if _, ok := ps.get("return"); !ok {
			return nil, nil
		}
		if _, ok := ps.get("topics"); ok {
			return map[string]any{"msgids": res.ids}, nil
		}
		return map[string]any{"msgid": res.ids[len(res.ids)-1]}, nil
	})
	registerAPI("POST /mqtt/publish_batch", func(n *Node, r *mgmt.Request) (any, error) {
		body, err := requestBody(r)
		if err != nil {
			return badRequest, nil
		}
		// The body's items; an object's fields are items too (each bad),
		// anything else crashes EMQX (bad_params here).
		var items []json.RawMessage
		if body != nil {
			var ok bool
			if items, ok = arrayItems(body); !ok {
				fields, isObj := objectPairs(body)
				if !isObj {
					return nil, errBadParamsAt
				}
				items = make([]json.RawMessage, len(fields))
			}
		}
		out := make([]map[string]any, 0, len(items))
		for _, it := range items {
			ps, ok := objectPairs(it)
			if !ok {
				out = append(out, map[string]any{"code": mgmt.CodeParamType, "message": "bad_params"})
				continue
			}
			res := n.publishFields(ps)
			if res.badQoS {
				out = append(out, map[string]any{"code": mgmt.CodeBadQoS, "message": "bad_qos"})
				continue
			}
			if res.code == mgmt.CodeParamType && res.message == "bad_params" {
				out = append(out, map[string]any{"code": res.code, "message": res.message})
				continue
			}
			topic, ok := ps.get("topic")
			if !ok {
				if topic, ok = ps.get("topics"); !ok {
					topic = json.RawMessage(`""`)
				}
			}
			out = append(out, map[string]any{"topic": topic, "code": res.code})
		}
		return out, nil
	})
}

// publishParams are the fields of a publish request: the query's and the
// body object's (an array gives none; nil params: a body EMQX cannot
// take fields from).
func publishParams(r *mgmt.Request) (params, error) {
	body, err := requestBody(r)
	if err != nil {
		return nil, err
	}
	ps := append(params{}, queryParams(r)...)
	if body == nil {
		return ps, nil
	}
	if fields, ok := objectPairs(body); ok {
		return append(ps, fields...), nil
	}
	if _, ok := arrayItems(body); ok {
		return ps, nil
	}
	return nil, nil
}
