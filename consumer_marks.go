package kafka

import "slices"

// marks tracks, for one partition of a CommitMarked consumer, the messages
// handed out and not yet marked processed, so that the committed position
// never passes an unprocessed message however processing is ordered: the
// position is the offset of the oldest message handed out and not marked.
//
// Handed-out offsets arrive in increasing order (a partition's messages are
// handed out in offset order), so they form a queue; marking finds an
// offset by binary search. Each message costs 9 bytes until it and all
// before it are marked.
type marks struct {
	offs []int64 // handed out, oldest first, from head
	done []bool  // parallel to offs: marked
	head int
}

// handed records that the message at off was handed out.
func (k *marks) handed(off int64) {
	if k.head > 0 && k.head*2 >= len(k.offs) {
		n := copy(k.offs, k.offs[k.head:])
		copy(k.done, k.done[k.head:])
		k.offs, k.done, k.head = k.offs[:n], k.done[:n], 0
	}
	k.offs = append(k.offs, off)
	k.done = append(k.done, false)
}

// mark records that the message at off was processed. An offset that was
// not handed out (or no longer is tracked: the partition was reset since)
// is ignored.
func (k *marks) mark(off int64) {
	live := k.offs[k.head:]
	i, ok := slices.BinarySearch(live, off)
	if !ok {
		return
	}
	k.done[k.head+i] = true
	for k.head < len(k.offs) && k.done[k.head] {
		k.head++
	}
	if k.head == len(k.offs) {
		k.offs, k.done, k.head = k.offs[:0], k.done[:0], 0
	}
}

// oldest returns the offset of the oldest message handed out and not
// marked, if any.
func (k *marks) oldest() (int64, bool) {
	if k.head == len(k.offs) {
		return 0, false
	}
	return k.offs[k.head], true
}

// reset forgets everything: the partition was moved to another offset.
func (k *marks) reset() {
	k.offs, k.done, k.head = k.offs[:0], k.done[:0], 0
}
