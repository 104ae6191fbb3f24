package testhelp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FetchRaw sends a plain Fetch request for partition p of topic, from
// offset, to the partition's leader as cl knows it, and returns the
// partition's answer: what is on the broker, not what a client makes of it
// (decode its RecordBatches with internal/records). It waits up to 200 ms
// for data. A leader that moved or a retriable error is retried, with cl's
// metadata refreshed, for up to a minute; any other error fails the test.
func FetchRaw(t testing.TB, cl *cluster.Cluster, topic string, p int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		fp, err := fetchOnce(t, cl, topic, p, offset)
		if err == nil {
			return fp
		}
		if !kerr.IsRetriable(err) && !isRouting(err) || time.Now().After(deadline) {
			t.Fatalf("fetch %s/%d from %d: %v", topic, p, offset, err)
		}
		cl.TriggerRefresh()
		time.Sleep(100 * time.Millisecond) // leaders move within seconds; poll for it
	}
}

func fetchOnce(t testing.TB, cl *cluster.Cluster, topic string, p int32, offset int64) (kmsg.FetchResponseTopicPartition, error) {
	t.Helper()
	var none kmsg.FetchResponseTopicPartition
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	br, _, err := cl.Leader(topic, p)
	if err != nil {
		return none, routingError{err}
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 200
	req.MinBytes = 1
	req.MaxBytes = 50 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	if tm, err := cl.Snapshot().Topic(topic); err == nil {
		rt.TopicID = tm.ID // Fetch v13 and later name topics by id
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, 50<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// A lane of its own, beside the connections of the client under test.
	resp, err := br.RequestOn(ctx, "testhelp-fetch", req)
	if err != nil {
		return none, routingError{err}
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ForCode(fr.ErrorCode); err != nil {
		return none, err
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s/%d: %d topics in the answer", topic, p, len(fr.Topics))
	}
	fp := fr.Topics[0].Partitions[0]
	return fp, kerr.ForCode(fp.ErrorCode)
}

// routingError is a failure to reach the leader (unknown yet, or its
// connection broke): worth retrying after a metadata refresh.
type routingError struct{ error }

func (e routingError) Unwrap() error { return e.error }

func isRouting(err error) bool {
	var re routingError
	return errors.As(err, &re)
}
