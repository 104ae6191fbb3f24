package fetch

import (
	"time"
)

// route is the router goroutine: at every metadata update it moves each
// cursor to the source of its partition's current leader. While some
// cursor has no leader it keeps asking for refreshes, with backoff.
func (f *fetcher) route() {
	defer f.wg.Done()
	leaderless := 0
	for {
		updated := f.cl.Updated() // before routing, so no update is missed
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return
		}
		n := 0
		for _, c := range f.parts {
			f.routeLocked(c)
			if c.src == nil {
				n++
			}
		}
		f.mu.Unlock()

		var retry <-chan time.Time
		var t *time.Timer
		if n > 0 {
			leaderless++
			f.cl.TriggerRefresh()
			t = time.NewTimer(f.cl.Backoff(leaderless))
			retry = t.C
		} else {
			leaderless = 0
		}
		select {
		case <-updated:
		case <-retry:
		case <-f.rerouteCh:
		case <-f.ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
	}
}

// routeLocked moves c to the source of its partition's leader in the
// current metadata, starting that source if needed, and records the leader
// epoch. A cursor whose leader is unknown is left without a source (false);
// the router retries it. Caller holds f.mu.
func (f *fetcher) routeLocked(c *cursor) bool {
	leader, epoch := int32(-1), int32(-1)
	snap := f.cl.Snapshot()
	if t, err := snap.Topic(f.cfg.Topic); err == nil {
		if pm, err := t.Partition(c.p); err == nil && pm.Leader >= 0 {
			if _, ok := snap.Brokers[pm.Leader]; ok {
				leader, epoch = pm.Leader, pm.LeaderEpoch
			}
		}
	}
	if c.src != nil && c.src.id == leader {
		if epoch != c.leaderEpoch {
			// Same leader, new epoch (it was re-elected): errors seen
			// with the old epoch are worth retrying at once.
			c.leaderEpoch = epoch
			c.retryAt = time.Time{}
			c.src.wakeup()
		}
		return true
	}
	if c.src != nil {
		c.src.remove(c)
		c.src.wakeup()
		c.src = nil
	}
	c.leaderEpoch = epoch
	if leader < 0 {
		return false
	}
	s := f.sources[leader]
	if s == nil {
		s = newSource(f, leader)
		f.sources[leader] = s
		s.start()
	}
	s.add(c)
	c.src = s
	c.retryAt = time.Time{} // a new leader: no reason to wait
	s.wakeup()
	return true
}

func (f *fetcher) signalReroute() {
	select {
	case f.rerouteCh <- struct{}{}:
	default:
	}
}
