//go:build !cgo || nordkafka

package rdkafka

import (
	"errors"
	"strings"
	"testing"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// TestStubRegistersNothing: without cgo, or with -tags nordkafka, the
// package compiles but registers no engine, so UseRdkafka fails with the
// typed error that says how to enable it.
func TestStubRegistersNothing(t *testing.T) {
	e, err := engine.Lookup("rdkafka")
	if e != nil || !errors.Is(err, kerr.ErrEngineNotEnabled) {
		t.Fatalf("Lookup(rdkafka) = %v, %v; want ErrEngineNotEnabled", e, err)
	}
	if !strings.Contains(err.Error(), "cgo") || !strings.Contains(err.Error(), "github.com/gokafka/kafka/rdkafka") {
		t.Fatalf("the error does not say how to enable the engine: %v", err)
	}
	if Enabled || LibraryVersion() != "" {
		t.Fatalf("Enabled %v, LibraryVersion %q in a build without the engine", Enabled, LibraryVersion())
	}
}
