package conformance_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn carries an MQTT byte stream over a WebSocket for rawc: each Write
// is one binary message (frame), reads run through the messages in turn.
type wsConn struct {
	net.Conn // the TCP connection under the WebSocket (addresses, Close)
	ws       *websocket.Conn
	mu       sync.Mutex
	r        io.Reader
	texts    bool // Write sends text messages instead
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			op, r, err := c.ws.NextReader()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				// as from a net.Conn (the WebSocket is unusable after it)
				return 0, fmt.Errorf("%w: %w", os.ErrDeadlineExceeded, err)
			}
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("the node sent a WebSocket message that is not binary")
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := websocket.BinaryMessage
	if c.texts {
		op = websocket.TextMessage
	}
	if err := c.ws.WriteMessage(op, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *wsConn) Close() error                       { return c.ws.Close() }

// dialWSConn opens a WebSocket to the node at addr offering the given
// subprotocols and returns it with the node's answer.
func dialWSConn(t testing.TB, addr string, subprotocols ...string) (*wsConn, *http.Response) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: wait}
	ws, resp, err := d.Dial("ws://"+addr+wsPath, nil)
	if err != nil {
		t.Fatalf("websocket %s: %v", addr, err)
	}
	c := &wsConn{Conn: ws.UnderlyingConn(), ws: ws}
	t.Cleanup(func() { c.Close() })
	return c, resp
}

// dialWS is dial over a WebSocket offering the "mqtt" subprotocol.
func dialWS(t testing.TB, addr string, v byte) *rawc {
	t.Helper()
	c, _ := dialWSConn(t, addr, "mqtt")
	return newRawc(t, c, v)
}

// connectWS is connect over a WebSocket.
func connectWS(t testing.TB, addr string, v byte, id string) *rawc {
	t.Helper()
	r := dialWS(t, addr, v)
	r.send(connectPk(id, true))
	if ca := r.read(); ca.FixedHeader.Type != 2 || ca.ReasonCode != 0 {
		t.Fatalf("CONNACK over WebSocket: %+v", ca)
	}
	return r
}
