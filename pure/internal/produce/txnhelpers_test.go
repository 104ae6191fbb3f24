package produce

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// protocols runs f for both transaction protocols: "v2" and "classic"
// (forced: brokers serve the classic protocol to clients that speak it).
// On a cluster without transactions v2 (Kafka 3.x) the "v2" case instead
// proves that the producer falls back to the classic protocol.
func protocols(t *testing.T, f func(t *testing.T, classic bool)) {
	t.Run("v2", func(t *testing.T) {
		if clusterHasTxnV2() {
			f(t, false)
			return
		}
		tp := newTxnProducer(t, testhelp.NewCluster(t, nil), txnConfig(t), false)
		if err := tp.BeginTxn(testhelp.Ctx(t, time.Minute)); err != nil {
			t.Fatalf("BeginTxn: %v", err)
		}
		if tp.tx.v2.Load() {
			t.Fatalf("transactions v2 chosen on Kafka %s", testinstance.Shared().KafkaVersion())
		}
		endTxn(t, tp, false)
	})
	t.Run("classic", func(t *testing.T) { f(t, true) })
}

// clusterHasTxnV2 reports whether the test cluster finalizes
// transaction.version 2 (KIP-890): Kafka 4.x does, 3.x does not.
func clusterHasTxnV2() bool {
	v := testinstance.Shared().KafkaVersion()
	return v == "" || !strings.HasPrefix(v, "3.")
}

// txnConfig is a transactional producer's configuration as the root makes
// it: the defaults, a transactional id, a transaction timeout.
func txnConfig(t testing.TB) engine.ProducerConfig {
	cfg := testhelp.ProducerConfig()
	cfg.TransactionalID = testhelp.UniqueName(t, "txn")
	cfg.TransactionTimeout = time.Minute
	return cfg
}

// newTxnProducer returns a transactional producer, closed at the end of the
// test, that speaks the classic protocol if classic is set.
func newTxnProducer(t testing.TB, cl *cluster.Cluster, cfg engine.ProducerConfig, classic bool) *TxnProducer {
	t.Helper()
	ep, err := New(context.Background(), cl, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tp, ok := ep.(*TxnProducer)
	if !ok {
		t.Fatalf("New with a TransactionalID returned %T, want *TxnProducer", ep)
	}
	tp.tx.forceOld = classic
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tp.Close(ctx)
	})
	return tp
}

// begin is BeginTxn that fails the test on error, or if the producer did
// not choose the protocol the test asked for.
func begin(t testing.TB, tp *TxnProducer, classic bool) {
	t.Helper()
	if err := tp.BeginTxn(testhelp.Ctx(t, time.Minute)); err != nil {
		t.Fatalf("BeginTxn: %v", err)
	}
	if v2 := tp.tx.v2.Load(); v2 == classic {
		t.Fatalf("the producer speaks transactions v2: %v, want %v", v2, !classic)
	}
}

func endTxn(t testing.TB, tp *TxnProducer, commit bool) {
	t.Helper()
	if err := tp.EndTxn(testhelp.Ctx(t, time.Minute), commit); err != nil {
		t.Fatalf("EndTxn(commit=%v): %v", commit, err)
	}
}

// produceValues produces one message per value, round robin over the
// partitions of topics (each with parts partitions), and returns the
// reports.
func produceValues(t testing.TB, tp *TxnProducer, topics []string, parts int, values []string) *testhelp.Reports {
	t.Helper()
	rep := testhelp.NewReports(len(values))
	for i, v := range values {
		mustProduce(t, tp.Producer, msg(topics[i%len(topics)], int32(i/len(topics)%parts), v), rep.Done)
	}
	return rep
}

// values returns n distinct values named after prefix.
func values(prefix string, n int) []string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return vs
}

// allAcked waits for every report and fails the test on an error.
func allAcked(t testing.TB, rep *testhelp.Reports, what string) {
	t.Helper()
	rep.Wait(t, time.Minute)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%s: %d message(s) failed, the first with %v", what, len(errs), errs[0])
	}
}

// kcatValues reads topics of tc (the shared cluster if nil) to their end
// with kcat (librdkafka) at the isolation level given, and returns the
// values, sorted. read_committed stops at the last stable offset.
func kcatValues(t testing.TB, tc *testinstance.Cluster, level string, topics ...string) []string {
	t.Helper()
	var vs []string
	for _, topic := range topics {
		out := testhelp.Kcat(t, tc, "", "-C", "-t", topic, "-e", "-q", "-f", `%s\n`, "-X", "isolation.level="+level)
		for _, line := range strings.Split(out, "\n") {
			if line != "" {
				vs = append(vs, line)
			}
		}
	}
	slices.Sort(vs)
	return vs
}

// checkCommitted checks that read_committed readers nobody here wrote
// (kcat, and, if console, Kafka's console consumer, which is asked for one
// message more so that an extra one is read rather than left behind) read
// exactly want from topics of the shared cluster.
func checkCommitted(t testing.TB, want []string, console bool, topics ...string) {
	t.Helper()
	checkCommittedOn(t, nil, want, console, topics...)
}

// checkCommittedOn is checkCommitted on tc (the shared cluster if nil).
func checkCommittedOn(t testing.TB, tc *testinstance.Cluster, want []string, console bool, topics ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	// A committed transaction becomes visible when the coordinator has
	// written its markers, which it does after answering EndTxn: poll.
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for got = kcatValues(t, tc, "read_committed", topics...); !slices.Equal(got, want) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		got = kcatValues(t, tc, "read_committed", topics...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kcat (read_committed) read %d values, want %d: %s", len(got), len(want), testhelp.Diff(got, want))
	}
	if console {
		include := strings.Join(topics, "|")
		if got := testhelp.ConsoleCommitted(t, tc, include, len(want)+1, 10*time.Second); !slices.Equal(got, want) {
			t.Fatalf("Kafka's console consumer (read_committed) read %d values, want %d: %s", len(got), len(want), testhelp.Diff(got, want))
		}
	}
}

// txnState asks the transaction coordinator (DescribeTransactions, Kafka
// 3.0+) for the state of tp's transactional id: "Ongoing",
// "PrepareAbort", "CompleteAbort", "CompleteCommit", "Empty", ...
func txnState(t testing.TB, tp *TxnProducer) string {
	t.Helper()
	ctx := testhelp.Ctx(t, 30*time.Second)
	for {
		b, err := tp.tx.coord.Broker(ctx)
		if err == nil {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{tp.tx.id}
			var resp kmsg.Response
			if resp, err = b.Request(ctx, req); err == nil {
				st := resp.(*kmsg.DescribeTransactionsResponse).TransactionStates
				if len(st) != 1 {
					t.Fatalf("DescribeTransactions answered %d states", len(st))
				}
				if err = kerr.ForCode(st[0].ErrorCode); err == nil {
					return st[0].State
				}
				tp.tx.coord.Failed(b, err)
			}
		}
		if !kerr.IsRetriable(err) || ctx.Err() != nil {
			t.Fatalf("DescribeTransactions: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the coordinator moves or loads: ask again
	}
}

// lastStable returns partition p's last stable offset and high watermark:
// equal once no transaction is open on it.
func lastStable(t testing.TB, cl *cluster.Cluster, topic string, p int32) (lso, hwm int64) {
	t.Helper()
	ctx := testhelp.Ctx(t, 30*time.Second)
	return endOffset(t, ctx, cl, topic, p, 1), endOffset(t, ctx, cl, topic, p, 0)
}

// joinGroup makes a classic consumer group of one member, which owns every
// partition of topic, and returns its generation and member id. Each call
// with the member id of an earlier one rejoins: a new generation.
func joinGroup(t testing.TB, cl *cluster.Cluster, group, topic, memberID string) (int32, string) {
	t.Helper()
	ctx := testhelp.Ctx(t, time.Minute)
	coord := cluster.NewCoordinator(cl, cluster.GroupCoordinator, group)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	var gen int32
	for {
		b, err := coord.Broker(ctx)
		if err != nil {
			t.Fatalf("group coordinator: %v", err)
		}
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = "range", meta.AppendTo(nil)
		req.Protocols = append(req.Protocols, proto)
		resp, err := b.Request(ctx, req)
		if err == nil {
			r := resp.(*kmsg.JoinGroupResponse)
			err = kerr.ForCode(r.ErrorCode)
			if errors.Is(err, kerr.MemberIDRequired) {
				memberID = r.MemberID
				continue
			}
			if err == nil {
				memberID, gen = r.MemberID, r.Generation
				break
			}
		}
		coord.Failed(b, err)
		if !kerr.IsRetriable(err) || ctx.Err() != nil {
			t.Fatalf("JoinGroup: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // coordinator loading or moving: ask again
	}
	tm, err := cl.Snapshot().Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	asg := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic = topic
	for _, p := range tm.Partitions {
		at.Partitions = append(at.Partitions, p.ID)
	}
	asg.Topics = append(asg.Topics, at)
	b, err := coord.Broker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.Generation, req.MemberID = group, gen, memberID
	req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sa := kmsg.NewSyncGroupRequestGroupAssignment()
	sa.MemberID, sa.MemberAssignment = memberID, asg.AppendTo(nil)
	req.GroupAssignment = append(req.GroupAssignment, sa)
	resp, err := b.Request(ctx, req)
	if err == nil {
		err = kerr.ForCode(resp.(*kmsg.SyncGroupResponse).ErrorCode)
	}
	if err != nil {
		t.Fatalf("SyncGroup: %v", err)
	}
	return gen, memberID
}

// leaveGroup takes the member out of the group (for the cleanup).
func leaveGroup(cl *cluster.Cluster, group, memberID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := cluster.NewCoordinator(cl, cluster.GroupCoordinator, group).Broker(ctx)
	if err != nil {
		return
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = memberID
	req.Members = append(req.Members, m)
	req.MemberID = memberID
	b.Request(ctx, req)
}
