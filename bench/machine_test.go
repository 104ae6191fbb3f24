package main

import "testing"

func TestMeminfoField(t *testing.T) {
	const meminfo = "MemTotal:       24683808 kB\nMemFree:         5934304 kB\nBad:     x kB\n"
	if n, err := meminfoField(meminfo, "MemFree"); err != nil || n != 5934304<<10 {
		t.Fatalf("MemFree = %d, %v", n, err)
	}
	if _, err := meminfoField(meminfo, "Cached"); err == nil {
		t.Fatal("a missing line gave no error")
	}
	if _, err := meminfoField(meminfo, "Bad"); err == nil {
		t.Fatal("a value that is not a number gave no error")
	}
}
