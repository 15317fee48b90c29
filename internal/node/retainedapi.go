package node

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"emqxgo/internal/fabric"
	"emqxgo/internal/mgmt"
)

// The retained messages over HTTP (the dashboard's page; EMQX 4.4's
// emqx_retainer has no API): the cluster's table is on every node, so the
// node asked answers for the cluster.
//
// GET /api/v4/retainer/messages?_page&_limit[&topic=<filter>] lists them
// by topic; DELETE /api/v4/retainer/messages[?topic=<topic or filter>]
// clears them cluster-wide, as `emqx_ctl retainer clean [<Topic>]` (all
// without topic), answering {"cleaned":N}.

// Payload bounds of one page: each payload is cut at maxRowPayload, and
// once a page holds maxPagePayload bytes of payloads the rows after it
// carry none (payload_truncated, payload_size say so).
const (
	maxRowPayload  = 64 << 10
	maxPagePayload = 4 << 20
)

// RetainedRow is one retained message as the API lists it.
type RetainedRow struct {
	Topic   string `json:"topic"`
	QoS     byte   `json:"qos"`
	Payload string `json:"payload"`
	// PayloadEncoding is "base64" when the payload is no UTF-8 text.
	PayloadEncoding string `json:"payload_encoding,omitempty"`
	// PayloadTruncated: Payload is the start of PayloadSize bytes.
	PayloadTruncated bool   `json:"payload_truncated,omitempty"`
	PayloadSize      int    `json:"payload_size,omitempty"`
	FromClientID     string `json:"from_clientid"`
	// FromUsername is "": the table does not keep the publisher's name.
	FromUsername string `json:"from_username"`
	Timestamp    string `json:"timestamp"` // local time, YYYY-MM-DD HH:MM:SS
}

// retainedRows makes the page's rows within the payload bounds.
func retainedRows(ms []fabric.RetainedMessage) []RetainedRow {
	out := make([]RetainedRow, 0, len(ms))
	budget := maxPagePayload
	for _, m := range ms {
		row := RetainedRow{Topic: m.Topic, QoS: m.QoS, FromClientID: m.From,
			Timestamp: time.Unix(m.Created, 0).Format("2006-01-02 15:04:05")}
		p := m.Payload
		if cut := min(maxRowPayload, budget); len(p) > cut {
			row.PayloadTruncated, row.PayloadSize = true, len(p)
			p = p[:cut]
			if utf8.Valid(m.Payload) {
				for len(p) > 0 && !utf8.Valid(p) { // not in the middle of a character
					p = p[:len(p)-1]
				}
			}
		}
		budget -= len(p)
		if utf8.Valid(m.Payload) {
			row.Payload = string(p)
		} else {
			row.Payload, row.PayloadEncoding = base64.StdEncoding.EncodeToString(p), "base64"
		}
		out = append(out, row)
	}
	return out
}

func init() {
	registerAPI("GET /retainer/messages", func(n *Node, r *mgmt.Request) (any, error) {
		page, limit, err := r.Paging()
		if err != nil {
			return nil, err
		}
		filter := r.Query("topic")
		if r.Has("topic") && !validFilter(filter) {
			return nil, mgmt.Errorf(mgmt.CodeBadTopic, "bad_topic")
		}
		skip := min(page-1, (1<<31)/limit) * limit
		ms, total := n.fabric.RetainedMessages(filter, skip, limit)
		return mgmt.Paged{Data: retainedRows(ms),
			Meta: mgmt.Meta{Page: page, Limit: limit, Count: total, HasNext: skip+len(ms) < total}}, nil
	})
	registerAPI("DELETE /retainer/messages", func(n *Node, r *mgmt.Request) (any, error) {
		filter := r.Query("topic")
		if r.Has("topic") && !validFilter(filter) {
			return nil, mgmt.Errorf(mgmt.CodeBadTopic, "bad_topic")
		}
		return map[string]int{"cleaned": n.fabric.ClearRetained(filter)}, nil
	})
}
