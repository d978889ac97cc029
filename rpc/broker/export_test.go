package broker

// Down reports whether every connection of c has been seen to fail, for
// tests that need a Send to happen during an outage rather than race it:
// Stats.Connected turns false as soon as one connection is down.
func (c *Conn) Down() bool {
	if c.pub.connected() || c.shared.connected() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for sub := range c.subs {
		if sub.emulate && sub.link.connected() {
			return false
		}
	}
	return true
}
