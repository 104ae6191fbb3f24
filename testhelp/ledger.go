package testhelp

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Ledger is the truth about which member of a consumer group owns which
// partition, as the members' handlers report it: a partition is taken when
// it is assigned and released once revoked or lost. Taking a partition that
// another member holds breaks "each partition has exactly one owner", and is
// recorded as a violation; Check fails the test with them all. Safe for
// concurrent use (handlers run on the members' goroutines).
//
// T is the caller's TopicPartition type (balance's, engine's: they have the
// same fields), so that the ledger needs no package of the module.
type Ledger[T TopicPartition] struct {
	mu         sync.Mutex
	owner      map[T]string
	violations []string
}

// TopicPartition is any type with the fields of a TopicPartition, and a
// String method: offsets.TopicPartition (balance's, the root's) and
// engine.TopicPartition.
type TopicPartition interface {
	~struct {
		Topic     string
		Partition int32
	}
	String() string
}

// NewLedger is an empty ledger.
func NewLedger[T TopicPartition]() *Ledger[T] { return &Ledger[T]{owner: map[T]string{}} }

// Take records that who was assigned ps.
func (l *Ledger[T]) Take(who string, ps []T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range ps {
		if o, ok := l.owner[p]; ok && o != who {
			l.violations = append(l.violations, fmt.Sprintf("%s assigned %s while %s owns it", who, p, o))
		}
		l.owner[p] = who
	}
}

// Release records that who gave ps up (the ones it holds).
func (l *Ledger[T]) Release(who string, ps []T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range ps {
		if l.owner[p] == who {
			delete(l.owner, p)
		}
	}
}

// Forget releases everything who holds: a member a test "kills" never says
// so itself.
func (l *Ledger[T]) Forget(who string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, o := range l.owner {
		if o == who {
			delete(l.owner, p)
		}
	}
}

// Violation records a broken rule found elsewhere (a handler's own checks).
func (l *Ledger[T]) Violation(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.violations = append(l.violations, fmt.Sprintf(format, args...))
}

// Check fails the test if any rule was broken so far.
func (l *Ledger[T]) Check(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) > 0 {
		t.Fatalf("ownership violations:\n%s", strings.Join(l.violations, "\n"))
	}
}
