package offsets

import (
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// TestTxnCommitRefusals: what no coordinator could accept is refused
// before anything is sent (the transactional producer's tests cover the
// commits themselves, with both protocols).
func TestTxnCommitRefusals(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 30*time.Second)
	txn := Txn{ID: "some-txn", ProducerID: 1, Epoch: 0}
	if err := g.TxnCommit(ctx, nil, Generation{}, txn); err != nil {
		t.Fatalf("TxnCommit of nothing: %v", err)
	}
	one := map[TopicPartition]Commit{part("t", 0): At(1)}
	if err := g.TxnCommit(ctx, one, Generation{}, Txn{}); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("TxnCommit without a transactional id: %v, want ErrInvalidConfig", err)
	}
	bad := map[TopicPartition]Commit{part("t", -1): At(1), part("", 0): At(1), part("t", 1): At(-3)}
	err := g.TxnCommit(ctx, bad, Generation{}, txn)
	if !errors.Is(err, kerr.ErrUnknownPartition) || !errors.Is(err, kerr.ErrInvalidTopic) || !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("TxnCommit of a negative partition, an empty topic and a negative offset: %v", err)
	}
	if ps := Partitions(err); len(ps) != 3 {
		t.Fatalf("Partitions: %v, want the 3 refused", ps)
	}
}
