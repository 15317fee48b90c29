// Package mgmt is the HTTP side of EMQX 4.4's management API
// (emqx_management): the listeners on management.listener.http and
// .https, basic authentication with an application's id and secret,
// EMQX's bodies ({"code":0,"data":...}), paging (_page, _limit, meta) and
// error codes, and GET /status for load balancers and probes.
//
// The operations themselves are the node's (internal/node registers one
// route per operation, the same functions emqx_ctl prints); this package
// only turns requests into calls and results into EMQX's bodies.
package mgmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// EMQX's error codes (emqx_mgmt.hrl).
const (
	CodeOK             = 0
	CodeRPC            = 101 // badrpc: a node did not answer
	CodeUnknown        = 102
	CodeLogin          = 103 // username or password error
	CodeEmptyLogin     = 104
	CodeNoUser         = 105
	CodeAdminUndeleted = 106
	CodeMissingParam   = 107
	CodeParamType      = 108
	CodeNotJSON        = 109
	CodePluginLoaded   = 110
	CodePluginUnloaded = 111
	CodeNotOnline      = 112 // client not online
	CodeUserExists     = 113
	CodeOldPassword    = 114
	CodeBadTopic       = 115
	CodeBadQoS         = 116
)

// Error is an operation's failure as EMQX answers it: HTTP 200 (or
// Status when set) with {"code":Code,"message":Message}.
type Error struct {
	Code    int
	Message string
	Status  int // HTTP status; 0: 200 as minirest
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

// Errorf makes an Error with code.
func Errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Paged is a page of a list: EMQX's {"code":0,"data":[...],"meta":{...}}.
type Paged struct {
	Data any
	Meta Meta
}

// Meta is EMQX's page description. Count is the number of rows matching
// (-1 when filters make it unknown, as EMQX); HasNext whether a later
// page has rows.
type Meta struct {
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	Count   int  `json:"count"`
	HasNext bool `json:"hasnext"`
}

// Raw is a body written as it is (text/plain, or ContentType).
type Raw struct {
	ContentType string
	Status      int
	Body        []byte
}

// Request is one call: the HTTP request, its path values, query and body.
type Request struct {
	R *http.Request
	// Body is the request body (at most maxBody bytes).
	Body []byte
	// MaxRowLimit caps Limit.
	MaxRowLimit int
}

// Path is a path value of the route's pattern ({clientid}).
func (r *Request) Path(name string) string { return r.R.PathValue(name) }

// Query is a query parameter ("" when absent).
func (r *Request) Query(name string) string { return r.R.URL.Query().Get(name) }

// Has tells whether the query has the parameter.
func (r *Request) Has(name string) bool { return r.R.URL.Query().Has(name) }

// Page is _page (1 when absent); an unparsable value is CodeParamType.
func (r *Request) Page() (int, error) {
	return r.intParam("_page", 1)
}

// Paging is Page and Limit.
func (r *Request) Paging() (page, limit int, err error) {
	if page, err = r.Page(); err != nil {
		return 0, 0, err
	}
	limit, err = r.Limit()
	return page, limit, err
}

// Limit is _limit (management.max_row_limit when absent), at most
// management.max_row_limit.
func (r *Request) Limit() (int, error) {
	l, err := r.intParam("_limit", r.MaxRowLimit)
	if err != nil {
		return 0, err
	}
	return min(l, r.MaxRowLimit), nil
}

func (r *Request) intParam(name string, def int) (int, error) {
	s := r.Query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, Errorf(CodeParamType, "Can't convert %q to integer type", s)
	}
	return n, nil
}

// JSON decodes the body into v; a body that is not JSON is CodeNotJSON.
func (r *Request) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return &Error{Code: CodeNotJSON, Message: "Request parameter is not a json"}
	}
	return nil
}

// Handler answers one route: a value for "data", a Paged, a Raw, or an
// error (an *Error as it is, any other as CodeUnknown).
type Handler func(r *Request) (any, error)

// errAsEMQX turns any error into the Error EMQX would answer.
func errAsEMQX(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeUnknown, Message: err.Error()}
}
