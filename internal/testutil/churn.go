package testutil

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

// Churn is connect/disconnect load on one MQTT listener: workers that each
// connect an MQTT 5 client (clean start, id churn-<worker>-<i>) and disconnect
// it at once, over and over.
type Churn struct {
	connects atomic.Int64
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// StartChurn starts workers goroutines churning clients on addr, each at most
// perWorker times. A worker ends early when Stop is called or when the
// listener is gone (the TCP dial fails); a refused CONNECT is retried with the
// next client. Stop runs when the test ends if not before.
func StartChurn(t testing.TB, addr string, workers, perWorker int) *Churn {
	c := &Churn{done: make(chan struct{})}
	for w := 0; w < workers; w++ {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for i := 0; i < perWorker; i++ {
				select {
				case <-c.done:
					return
				default:
				}
				cl, err := TryDialV5(addr, fmt.Sprintf("churn-%d-%d", w, i), true)
				if err != nil {
					if cl == nil {
						return // listener closed
					}
					continue
				}
				c.connects.Add(1)
				_ = cl.Disconnect(&paho.Disconnect{})
			}
		}()
	}
	t.Cleanup(c.Stop)
	return c
}

// Connects is how many clients have connected so far.
func (c *Churn) Connects() int64 { return c.connects.Load() }

// Stop ends the churn and waits for the workers.
func (c *Churn) Stop() {
	c.once.Do(func() { close(c.done) })
	c.wg.Wait()
}
