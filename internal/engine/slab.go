package engine

// MessageSlab hands out Messages allocated several at a time, where each
// fetched record's Message would otherwise be an allocation of its own. A
// Message the application keeps keeps the other Messages of its slab
// alive (their structs, not their values): slabs stay small for that, and
// so that they stay small allocations (under 32 KiB), whose memory the
// allocator reuses instead of zeroing and faulting in fresh pages. Not
// safe for concurrent use.
type MessageSlab struct{ free []Message }

// Next returns a zero Message, first allocating a slab of n (at least one)
// when the last slab is used up. n is the caller's size: no more than the
// Messages it expects to need, so that none are allocated for nothing.
func (s *MessageSlab) Next(n int) *Message {
	if len(s.free) == 0 {
		s.free = make([]Message, max(n, 1))
	}
	m := &s.free[0]
	s.free = s.free[1:]
	return m
}
