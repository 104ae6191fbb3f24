package testinstance

import (
	"testing"
	"time"
)

func TestParseGCLine(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(gcTimeLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		line string
		want GCPause
		ok   bool
	}{
		{"[2026-12-06T02:45:01.123+0000] GC(5) Pause Young (Allocation Failure) 115M->49M(247M) 23.158ms",
			GCPause{End: at("2026-12-06T02:45:01.123+0000"), Took: 23158 * time.Microsecond, Kind: "Pause Young (Allocation Failure)"}, true},
		{"[2026-12-06T02:45:09.010+0100] GC(22) Pause Young (Normal) (G1 Evacuation Pause) 162M->66M(302M) 11.566ms",
			GCPause{End: at("2026-12-06T01:45:09.010+0000"), Took: 11566 * time.Microsecond, Kind: "Pause Young (Normal) (G1 Evacuation Pause)"}, true},
		{"[2026-12-06T02:45:09.010+0000] GC(7) Pause Full (System.gc()) 80M->40M(256M) 95.001ms",
			GCPause{End: at("2026-12-06T02:45:09.010+0000"), Took: 95001 * time.Microsecond, Kind: "Pause Full (System.gc())"}, true},
		{"[2026-12-06T02:45:09.010+0000] GC(9) Pause Remark 70M->70M(256M) 2.000ms",
			GCPause{End: at("2026-12-06T02:45:09.010+0000"), Took: 2 * time.Millisecond, Kind: "Pause Remark"}, true},
		// Not pauses: the broker keeps running through concurrent phases.
		{"[2026-12-06T02:45:09.010+0000] GC(9) Concurrent Mark Cycle 45.678ms", GCPause{}, false},
		{"[2026-12-06T02:45:09.010+0000] Using Serial", GCPause{}, false},
		{"[2026-12-06T02:45:09.010+0000] GC(5) Pause Young (Allocation Failure) 115M->49M(247M)", GCPause{}, false},
		{"[not a time] GC(5) Pause Young (Allocation Failure) 115M->49M(247M) 23.158ms", GCPause{}, false},
		{"", GCPause{}, false},
	} {
		got, ok := parseGCLine(tc.line)
		if ok != tc.ok || !got.End.Equal(tc.want.End) || got.Took != tc.want.Took || got.Kind != tc.want.Kind {
			t.Errorf("parseGCLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}
