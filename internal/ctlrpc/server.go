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

// Server serves Handler on a listener it is given.
type Server struct {
	ln  net.Listener
	h   Handler
	log *zap.Logger
	wg  sync.WaitGroup
}

// NewServer starts nothing.
func NewServer(ln net.Listener, h Handler, log *zap.Logger) *Server {
	return &Server{ln: ln, h: h, log: log}
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
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute)) // joins may take a while, never forever
	r := bufio.NewReader(&limitedReader{r: c, n: maxRequest})
	line, err := r.ReadBytes('\n')
	if err != nil {
		s.log.Debug("ctl request read failed", zap.Error(err))
		return
	}
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

// Close stops accepting and waits for requests in flight.
func (s *Server) Close() {
	_ = s.ln.Close()
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
