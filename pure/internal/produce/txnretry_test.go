package produce

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
)

// txnRetryBroker is a fake broker that is its own transaction coordinator
// and answers a partition's first refused Produce requests with
// CONCURRENT_TRANSACTIONS, as a leader does while the coordinator still
// writes the previous transaction's markers.
type txnRetryBroker struct {
	*testhelp.FakeBroker
	refuse [2]int // the Produce requests (numbered from 1) to answer with CONCURRENT_TRANSACTIONS: from, to

	mu       sync.Mutex
	produces []time.Time // when each Produce arrived
	metadata []time.Time // when each Metadata arrived
}

func (b *txnRetryBroker) handle(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
	now := time.Now()
	switch req := r.Body.(type) {
	case *kmsg.MetadataRequest:
		b.mu.Lock()
		b.metadata = append(b.metadata, now)
		b.mu.Unlock()
		return false
	case *kmsg.FindCoordinatorRequest:
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.NodeID, resp.Host, resp.Port = b.NodeID, b.Host, b.Port
		for _, k := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key, rc.NodeID, rc.Host, rc.Port = k, b.NodeID, b.Host, b.Port
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		c.Respond(r, resp)
	case *kmsg.InitProducerIDRequest:
		resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = 1000, 0
		c.Respond(r, resp)
	case *kmsg.AddPartitionsToTxnRequest:
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition = p
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		c.Respond(r, resp)
	case *kmsg.ProduceRequest:
		b.mu.Lock()
		b.produces = append(b.produces, now)
		n := len(b.produces)
		b.mu.Unlock()
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				if n >= b.refuse[0] && n <= b.refuse[1] {
					rp.ErrorCode = 51 // CONCURRENT_TRANSACTIONS
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		c.Respond(r, resp)
	case *kmsg.EndTxnRequest:
		c.Respond(r, req.ResponseKind())
	default:
		return false
	}
	return true
}

// TestTxnConcurrentTransactionsRetriesHere: a batch the leader refuses with
// CONCURRENT_TRANSACTIONS goes again to the same leader after a short
// backoff, without the metadata refresh that other retriable errors wait
// for, and is delivered.
func TestTxnConcurrentTransactionsRetriesHere(t *testing.T) {
	b := &txnRetryBroker{refuse: [2]int{2, 3}}
	b.FakeBroker = testhelp.StartFakeBroker(t, b.handle)
	b.AddTopic("t", 1)
	cl, err := cluster.New(testhelp.Ctx(t, 10*time.Second), cluster.Config{Bootstrap: []string{b.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	tp := newTxnProducer(t, cl, txnConfig(t), true)
	// A first transaction, accepted, after which the producer knows the
	// partition's leader and the metadata has settled.
	begin(t, tp, true)
	allAcked(t, produceValues(t, tp, []string{"t"}, 1, []string{"first"}), "the first transaction")
	endTxn(t, tp, true)
	begin(t, tp, true)
	rep := produceValues(t, tp, []string{"t"}, 1, []string{"second"})
	allAcked(t, rep, "the message refused twice with CONCURRENT_TRANSACTIONS")
	endTxn(t, tp, true)

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.produces) != 4 {
		t.Fatalf("%d Produce requests, want 4 (one accepted, two refused, one accepted)", len(b.produces))
	}
	b.produces = b.produces[1:] // the second transaction's
	for i := 1; i < 3; i++ {
		if gap := b.produces[i].Sub(b.produces[i-1]); gap < 10*time.Millisecond {
			t.Errorf("retry %d came %v after the refusal, want a backoff", i, gap)
		}
	}
	// Other retriable errors wait for a metadata refresh after each
	// refusal (three Metadata requests in this window before the change);
	// one may still come from the cluster's own refresh of the topic.
	var during []time.Duration
	for _, at := range b.metadata {
		if at.After(b.produces[0]) && at.Before(b.produces[2]) {
			during = append(during, at.Sub(b.produces[0]))
		}
	}
	if len(during) > 1 {
		t.Errorf("Metadata requests at %v between the first refusal and the accepted Produce: CONCURRENT_TRANSACTIONS says nothing about leaders", during)
	}
}
