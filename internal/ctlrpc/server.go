package ctlrpc

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Handler executes requests; the node implements it.
type Handler interface {
	Handle(Request) Response
}

// maxRequest bounds one request line.
const maxRequest = 64 << 10

// readTimeout bounds how long a connection may take to send its request
// line (clients write it at once); answering may take longer (a join).
const readTimeout = 10 * time.Second

// Server serves Handler on a listener it is given.
type Server struct {
	ln  net.Listener
	h   Handler
	log *zap.Logger
	wg  sync.WaitGroup

	mu      sync.Mutex
	waiting map[net.Conn]struct{} // connections still to send their request
	closed  bool
}

// NewServer starts nothing.
func NewServer(ln net.Listener, h Handler, log *zap.Logger) *Server {
	return &Server{ln: ln, h: h, log: log, waiting: map[net.Conn]struct{}{}}
}

// Start accepts in the background until Close.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Error("ctl socket accept failed", zap.Error(err))
				}
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	if !s.wait(c, true) {
		return
	}
	_ = c.SetDeadline(time.Now().Add(readTimeout))
	r := bufio.NewReader(&limitedReader{r: c, n: maxRequest})
	line, err := r.ReadBytes('\n')
	s.wait(c, false)
	if err != nil {
		s.log.Debug("ctl request read failed", zap.Error(err))
		return
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute)) // joins may take a while, never forever
	var req Request
	var resp Response
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error = "bad_request"
	} else {
		resp = s.h.Handle(req)
	}
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

// wait notes c as waiting for its request (on) or not any more; it
// reports false when the server is closed (c is not served then).
func (s *Server) wait(c net.Conn, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !on {
		delete(s.waiting, c)
		return true
	}
	if s.closed {
		return false
	}
	s.waiting[c] = struct{}{}
	return true
}

// Close stops accepting, closes the connections that have not sent their
// request (an idle client cannot hold a stop up), and waits for the
// requests in flight. It is safe to call twice.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.waiting {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too large")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}
