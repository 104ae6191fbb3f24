package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// TestCheckSizeIsExact: CheckSize refuses exactly the records larger than
// the limit, whatever the bound's slack.
func TestCheckSizeIsExact(t *testing.T) {
	for _, m := range []*Message{
		{Value: []byte(strings.Repeat("v", 1000))},
		{Key: []byte("k"), Value: []byte(strings.Repeat("v", 300)), Headers: []Header{{Key: "h", Value: []byte("x")}}},
		{},
	} {
		exact := records.RecordSize(m.Key, m.Value, m.Headers, 0, 0)
		if SizeBound(m) < exact {
			t.Fatalf("bound %d below exact size %d", SizeBound(m), exact)
		}
		if err := CheckSize(m, exact); err != nil {
			t.Fatalf("limit = exact size %d: %v", exact, err)
		}
		if err := CheckSize(m, exact-1); !errors.Is(err, kerr.ErrMessageTooLarge) {
			t.Fatalf("limit = exact size - 1: %v, want ErrMessageTooLarge", err)
		}
	}
}
