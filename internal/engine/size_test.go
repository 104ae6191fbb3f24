package engine

import (
	"testing"
	"unsafe"
)

// TestMessageSize: a Message is allocated per consumed record (in slabs), so
// its size is watched: 144 bytes on 64-bit platforms.
func TestMessageSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(Message{}) != 144 {
		t.Fatalf("engine.Message is %d bytes, want 144", unsafe.Sizeof(Message{}))
	}
}
