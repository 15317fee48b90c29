package ctlrpc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// Client talks to one node's ctl socket.
type Client struct {
	Path    string        // socket path
	Timeout time.Duration // whole-request bound; 0 means 5 minutes
}

// NotRunningError means nothing answered on the socket.
type NotRunningError struct{ Err error }

func (e *NotRunningError) Error() string { return "node not responding: " + e.Err.Error() }
func (e *NotRunningError) Unwrap() error { return e.Err }

// Call sends one request and returns the node's response.
func (c *Client) Call(req Request) (Response, error) {
	var resp Response
	to := c.Timeout
	if to == 0 {
		to = 5 * time.Minute
	}
	conn, err := net.DialTimeout("unix", c.Path, 5*time.Second)
	if err != nil {
		return resp, &NotRunningError{Err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(to))
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return resp, &NotRunningError{Err: err}
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return resp, &NotRunningError{Err: err}
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("bad answer from node: %w", err)
	}
	return resp, nil
}

// Ping returns the node's name, version and pid.
func (c *Client) Ping() (Response, error) { return c.Call(Request{Op: OpPing}) }
