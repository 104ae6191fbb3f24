package kafka

import (
	"sync"
	"testing"
)

// Produce's Messages come from shared slabs (messageSlab): concurrent
// callers must each get a Message of their own, zero when handed out.
func TestNewMessageHandsEachMessageOutOnce(t *testing.T) {
	var p Producer
	const callers, each = 8, 1000
	got := make([][]*Message, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m := p.newMessage()
				if m.Value != nil || m.Offset != 0 || m.Topic != "" {
					t.Errorf("caller %d got a used message: %+v", c, m)
					return
				}
				m.Offset = int64(c*each + i + 1)
				got[c] = append(got[c], m)
			}
		}()
	}
	wg.Wait()
	seen := make(map[*Message]bool, callers*each)
	for c := range callers {
		for i, m := range got[c] {
			if seen[m] {
				t.Fatalf("a message was handed out twice")
			}
			seen[m] = true
			if want := int64(c*each + i + 1); m.Offset != want {
				t.Fatalf("caller %d's message %d has offset %d: another caller wrote it", c, i, m.Offset)
			}
		}
	}
}
