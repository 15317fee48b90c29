package mgmt

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/netutil"
)

// Prefix is the API's path prefix.
const Prefix = "/api/v4"

// maxBody bounds a request body (a publish_batch of many messages fits).
const maxBody = 64 << 20

// Config is what the server needs.
type Config struct {
	// Name is the server's name in errors and logs ("management" when
	// empty; "dashboard").
	Name string
	// HTTP and HTTPS are the addresses to listen on ("" off); TLS is the
	// https listener's configuration.
	HTTP, HTTPS string
	TLS         *tls.Config
	MaxClients  int
	MaxRowLimit int
	// Authorized checks an application's id and secret (HTTP basic
	// authentication).
	Authorized func(id, secret string) bool
	// Authorize, when set, decides instead of Authorized whether a
	// request that needs credentials is served; when it refuses, it has
	// written the answer (401, 403, 429).
	Authorize func(w http.ResponseWriter, r *http.Request) bool
	// Status is GET /status: the text and whether the node runs; nil: no
	// /status.
	Status func() (text string, running bool)
}

// Server is the management HTTP API of one node.
type Server struct {
	cfg Config
	log *zap.Logger
	mux *http.ServeMux

	mu     sync.Mutex
	srvs   []*http.Server
	addrs  map[string]string // "http", "https" -> bound address
	closed bool
	wg     sync.WaitGroup
}

// New makes a server; routes are added with Handle before Start.
func New(cfg Config, log *zap.Logger) *Server {
	if cfg.MaxRowLimit <= 0 {
		cfg.MaxRowLimit = 10000
	}
	if cfg.Name == "" {
		cfg.Name = "management"
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux(), addrs: map[string]string{}}
	if cfg.Status != nil {
		s.mux.HandleFunc("/status", s.status)
	}
	return s
}

// Route options.
type Option int

// NoAuth serves a route without the application's credentials (as EMQX's
// GET /api/v4/emqx_prometheus).
const NoAuth Option = 1

// Handle adds a route under Prefix: pattern is "METHOD /path/{name}".
func (s *Server) Handle(pattern string, h Handler, opts ...Option) {
	s.HandleHTTP(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		out, err := h(&Request{R: r, Body: body, MaxRowLimit: s.cfg.MaxRowLimit})
		write(w, out, err)
	}), opts...)
}

// HandleHTTP adds a plain http.Handler under Prefix (streams, files).
func (s *Server) HandleHTTP(pattern string, h http.Handler, opts ...Option) {
	method, path, _ := strings.Cut(pattern, " ")
	auth := !slices.Contains(opts, NoAuth)
	s.mux.HandleFunc(method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		if auth && !s.authorize(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Mount adds a handler outside Prefix, as it is ("GET /{$}", "GET
// /static/"): no credentials asked.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// authorize serves the request or answers it with the refusal.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Authorize != nil {
		return s.cfg.Authorize(w, r)
	}
	id, secret, ok := r.BasicAuth()
	if ok && s.cfg.Authorized != nil && s.cfg.Authorized(id, secret) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="emqx"`)
	http.Error(w, "UNAUTHORIZED", http.StatusUnauthorized)
	return false
}

// status is EMQX's GET /status: "Node <name> is started\nemqx is running",
// 200; 503 with "not_running" while the node stops.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "Not found.")
		return
	}
	text, running := "", false
	if s.cfg.Status != nil {
		text, running = s.cfg.Status()
	}
	w.Header().Set("Content-Type", "text/plain")
	if !running {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = io.WriteString(w, text)
}

// Write answers as a route does: out or err in EMQX's body.
func Write(w http.ResponseWriter, out any, err error) { write(w, out, err) }

// write answers with EMQX's body.
func write(w http.ResponseWriter, out any, err error) {
	if err != nil {
		e := errAsEMQX(err)
		writeJSON(w, max(e.Status, http.StatusOK), map[string]any{"code": e.Code, "message": e.Message})
		return
	}
	switch v := out.(type) {
	case Raw:
		ct := v.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(max(v.Status, http.StatusOK))
		_, _ = w.Write(v.Body)
	case Paged:
		writeJSON(w, http.StatusOK, map[string]any{"code": CodeOK, "data": nonNil(v.Data), "meta": v.Meta})
	case nil:
		writeJSON(w, http.StatusOK, map[string]any{"code": CodeOK})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"code": CodeOK, "data": v})
	}
}

// nonNil makes a nil list [] in JSON.
func nonNil(v any) any {
	if v == nil {
		return []any{}
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]any{"code": CodeUnknown, "message": err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Start binds the listeners; a listener that cannot bind is an error
// (what bound before is closed again).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range []struct{ name, addr string }{{"http", s.cfg.HTTP}, {"https", s.cfg.HTTPS}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeLocked()
			return err
		}
		if s.cfg.MaxClients > 0 {
			ln = netutil.LimitListener(ln, s.cfg.MaxClients)
		}
		srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: zap.NewStdLog(s.log.Named(s.logName()))}
		if l.name == "https" {
			if s.cfg.TLS == nil {
				_ = ln.Close()
				s.closeLocked()
				return errors.New(s.cfg.Name + ".listener.https needs certfile and keyfile")
			}
			ln = tls.NewListener(ln, s.cfg.TLS)
		}
		s.srvs = append(s.srvs, srv)
		s.addrs[l.name] = ln.Addr().String()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = srv.Serve(ln)
		}()
	}
	return nil
}

// logName names the http.Server's error log: mgmt_http, dashboard_http.
func (s *Server) logName() string {
	if s.cfg.Name == "management" {
		return "mgmt_http"
	}
	return s.cfg.Name + "_http"
}

// Addrs are the bound listeners: "http", "https" -> host:port.
func (s *Server) Addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.addrs))
	for k, v := range s.addrs {
		out[k] = v
	}
	return out
}

// Close stops the listeners and waits for the requests in progress (at
// most 5 s). Safe to call twice.
func (s *Server) Close() {
	s.mu.Lock()
	s.closeLocked()
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.srvs {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
}
