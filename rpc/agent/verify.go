package agent

import (
	"crypto/sha256"
	"sync"

	"fleetfeed/rpc"
)

// verifyCache remembers the outcome of verifying recent request bodies,
// so that the agents of a Sim, which share one key ring, verify a
// broadcast once instead of once each. The cached request is shared: the
// daemon and plugins only read it.
type verifyCache struct {
	ring *rpc.KeyRing
	mu   sync.Mutex
	m    map[[sha256.Size]byte]verified
	fifo [][sha256.Size]byte
}

type verified struct {
	req *rpc.Request
	err error
}

const verifyCacheSize = 256

func newVerifyCache(ring *rpc.KeyRing) *verifyCache {
	return &verifyCache{ring: ring, m: map[[sha256.Size]byte]verified{}}
}

// verify is rpc.VerifyRequest, remembered by the body's hash.
func (c *verifyCache) verify(body []byte) (*rpc.Request, error) {
	sum := sha256.Sum256(body)
	c.mu.Lock()
	v, ok := c.m[sum]
	c.mu.Unlock()
	if ok {
		return v.req, v.err
	}
	req, err := rpc.VerifyRequest(body, c.ring)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[sum]; !ok {
		if len(c.fifo) >= verifyCacheSize {
			delete(c.m, c.fifo[0])
			c.fifo = c.fifo[1:]
		}
		c.m[sum] = verified{req, err}
		c.fifo = append(c.fifo, sum)
	}
	return req, err
}
