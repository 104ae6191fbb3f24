package testhelp

import (
	"context"
	"testing"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProduceRaw sends one record batch (encoded with internal/records) to
// partition p of topic in a plain Produce request, acks=all, to the
// partition's leader as cl knows it, and returns its base offset: what
// FetchRaw is to fetching. txnID names the transaction of a transactional
// batch (nil otherwise). A leader that is unknown, moved or just elected
// (a topic just created, a broker just restarted) and a retriable error
// are retried with cl's metadata refreshed, up to 30 times with cl's
// backoff; any other error fails the test. A retry after a broken
// connection or a timeout may write the batch twice: a test that counts
// records does not kill brokers while it produces this way.
func ProduceRaw(t testing.TB, ctx context.Context, cl *cluster.Cluster, topic string, p int32, batch []byte, txnID *string) int64 {
	t.Helper()
	for attempt := 1; ; attempt++ {
		base, err := produceOnce(ctx, cl, topic, p, batch, txnID)
		if err == nil {
			return base
		}
		if !kerr.IsRetriable(err) && !isRouting(err) || attempt > 30 {
			t.Fatalf("produce to %s/%d: %v", topic, p, err)
		}
		if rerr := cl.RefreshTopics(ctx, topic); rerr != nil {
			t.Logf("refresh: %v", rerr)
		}
		if err := cl.Sleep(ctx, cl.Backoff(attempt)); err != nil {
			t.Fatalf("produce to %s/%d: %v", topic, p, err)
		}
	}
}

func produceOnce(ctx context.Context, cl *cluster.Cluster, topic string, p int32, batch []byte, txnID *string) (int64, error) {
	b, _, err := cl.Leader(topic, p)
	if err != nil {
		return 0, routingError{err}
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 30000
	req.TransactionID = txnID
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := b.Request(ctx, req)
	if err != nil {
		return 0, routingError{err}
	}
	pr := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	return pr.BaseOffset, kerr.WithMessage(pr.ErrorCode, pr.ErrorMessage)
}
