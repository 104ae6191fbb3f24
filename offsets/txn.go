package offsets

import (
	"context"
	"fmt"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Txn names the transaction that TxnCommit adds offsets to: the
// transactional producer's transactional id, producer id and epoch.
type Txn struct {
	ID         string // the transactional id
	ProducerID int64
	Epoch      int16
	// V2 says the producer runs transactions v2 (KIP-890): TxnOffsetCommit
	// v5, with which the group coordinator adds the group to the
	// transaction itself. Without it (the classic protocol, KIP-98), the
	// producer must have sent AddOffsetsToTxn for the group to its
	// transaction coordinator first, and TxnOffsetCommit is sent at v4 or
	// older: a newer version would mean transactions v2.
	V2 bool
}

// txnCommitV2 is the first TxnOffsetCommit version of transactions v2, and
// the last one before the classic protocol's.
const txnCommitV2 = 5

// TxnCommit stores offsets of any number of partitions inside a
// transaction (TxnOffsetCommit): they become the group's committed offsets
// if, and only if, the transaction commits, and are dropped if it aborts.
//
// gen is the committing member's generation, as for Commit (KIP-447): the
// coordinator refuses a member that lost its partitions, with
// kerr.IllegalGeneration, kerr.UnknownMemberID or kerr.FencedInstanceID, so
// that its transaction can only abort. The zero Generation commits outside
// of any membership (a consumer that assigns its own partitions).
//
// Outcomes, retries and bounds are those of Commit: retriable failures
// (the coordinator moved or is loading, CONCURRENT_TRANSACTIONS while the
// transaction coordinator completes the previous transaction, a lost
// connection) are retried, the partition alone, until ctx ends or
// GroupOptions.Timeout passes; the others come back as one *PartitionError
// per partition. A fenced producer gets kerr.ProducerFenced (or, from
// older brokers, kerr.InvalidProducerEpoch); a broker that cannot do
// transactions v2 while txn.V2 is set, kerr.ErrUnsupported.
func (g *Group) TxnCommit(ctx context.Context, offsets map[TopicPartition]Commit, gen Generation, txn Txn) error {
	if len(offsets) == 0 {
		return nil
	}
	if txn.ID == "" {
		return kerr.Config("Txn.ID", "empty transactional id")
	}
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	tps, failed := checkCommits(offsets)
	most := int16(txnCommitV2 - 1)
	if txn.V2 {
		most = txnCommitV2
	}
	for tp, err := range settle(ctx, g, "commit", tps, func(ctx context.Context, coord *cluster.Broker, tps []TopicPartition) (map[TopicPartition]error, error) {
		resp, err := coord.RequestAtMost(ctx, g.txnCommitRequest(offsets, tps, gen, txn), most)
		if err != nil {
			return nil, err
		}
		r := resp.(*kmsg.TxnOffsetCommitResponse)
		if txn.V2 && r.Version < txnCommitV2 {
			// Asked for transactions v2 of a broker that cannot: the
			// offsets were not added to the transaction.
			return nil, permanent(fmt.Errorf("%w: broker %d answers TxnOffsetCommit v%d, transactions v2 need v%d", kerr.ErrUnsupported, coord.ID, r.Version, txnCommitV2))
		}
		outcome := make(map[TopicPartition]error, len(tps))
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				outcome[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = kerr.ForCode(p.ErrorCode)
			}
		}
		confirmUnknown(ctx, g.cl, outcome)
		return outcome, nil
	}) {
		failed[tp] = err
	}
	return joinPartitionErrors("commit", g.id, failed)
}

// txnCommitRequest builds one TxnOffsetCommit for partitions tps, grouped
// by topic.
func (g *Group) txnCommitRequest(offsets map[TopicPartition]Commit, tps []TopicPartition, gen Generation, txn Txn) *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID = txn.ID
	req.Group = g.id
	req.ProducerID = txn.ProducerID
	req.ProducerEpoch = txn.Epoch
	req.Generation = gen.id()
	req.MemberID = gen.MemberID
	req.InstanceID = gen.InstanceID
	req.Topics = commitTopics(offsets, tps, func(topic string, ps []kmsg.TxnOffsetCommitRequestTopicPartition) kmsg.TxnOffsetCommitRequestTopic {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.Partitions = topic, ps
		return rt
	}, func(p int32, c Commit, meta *string) kmsg.TxnOffsetCommitRequestTopicPartition {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, c.Offset, c.LeaderEpoch, meta
		return rp
	})
	return req
}
