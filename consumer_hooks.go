package kafka

// The consumer's hook calls (hooks.go): consumed records and lag. They run
// only when the client has hooks (c.hooks != nil); lag events found while
// the consumer's lock is held are queued and raised once it is released, so
// that a slow lag hook holds up Consume and nothing else.

// noteLag queues a lag event of ps. Caller holds c.mu.
func (c *consumerCore) noteLag(ps *partState) {
	if len(c.hooks.lag) == 0 || ps.hw < 0 {
		return
	}
	c.lags = append(c.lags, LagEvent{
		Group: c.cfg.group, Topic: ps.tp.Topic, Partition: ps.tp.Partition,
		HighWatermark: ps.hw, Position: ps.pos, Lag: max(0, ps.hw-ps.pos),
	})
}

// consumedHooks raises the queued lag events, then the consumed event of m
// (nil: none), on the goroutine of Consume.
func (c *consumerCore) consumedHooks(m *Message) {
	if len(c.hooks.lag) > 0 {
		c.mu.Lock()
		lags := c.lags
		c.lags = nil
		c.mu.Unlock()
		for _, e := range lags {
			c.hooks.lagged(e)
		}
	}
	if m != nil && len(c.hooks.consumed) > 0 {
		c.hooks.recordConsumed(m)
	}
}
