// Package nowait writes to a plain TCP socket without ever waiting for it:
// one write(2) on the non-blocking socket, taking what the socket takes at
// once. The broker's connections use it for writes made on a publisher's
// goroutine, the peer links for frames written on a sender's. Its Reader
// reads such a socket as net.Conn does, but for the scheduler's
// bookkeeping around each read(2): the broker's listeners and the peer
// links read through it. ReadPooled reads into a buffer it takes from a
// pool only once the socket has something to read, so that a connection
// waiting for input holds no buffer (the broker's connections).
package nowait
