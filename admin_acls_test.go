package kafka_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/rdkafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// The ACL tests need brokers with an authorizer, which the shared cluster
// does not run: TestAuthorization starts its own one-broker cluster
// (KRaft's StandardAuthorizer, a SASL listener) and closes it at the end.

const (
	aclUser     = "bob"
	aclPassword = "Bob-pw-5e2a91"
)

// countingDialer counts the writes on every connection a client opens:
// each request is at least one, so a call that retried in a loop shows.
type countingDialer struct{ writes atomic.Int64 }

type countingConn struct {
	net.Conn
	d *countingDialer
}

func (c countingConn) Write(p []byte) (int, error) {
	c.d.writes.Add(1)
	return c.Conn.Write(p)
}

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return countingConn{c, d}, nil
}

// TestAuthorization: a user without rights gets a typed authorization
// error (IsAuthorization; the topic, group or cluster one) from produce,
// consume, commit and admin calls of both engines, at once rather than
// after a storm of retries, and without its password in the message;
// ACLs created, described and deleted with the admin API give and take
// the rights.
func TestAuthorization(t *testing.T) {
	tc := testhelp.PrivateCluster(t, testinstance.Config{
		Brokers: 1, NoZooKeeper: true,
		Security: &testinstance.SecurityConfig{
			Users:     []testinstance.User{{Name: aclUser, Password: aclPassword}},
			Listeners: []testinstance.Listener{{Name: "SASL", Protocol: testinstance.SASLPlaintext}},
		},
	}.WithAuthorizer())
	ctx := testhelp.Ctx(t, 4*time.Minute)
	admin, err := kafka.NewClient(ctx, tc.BootstrapServers()) // PLAINTEXT: User:ANONYMOUS, a super user
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topic := testhelp.UniqueName(t, "t")
	if _, err := admin.CreateTopic(ctx, topic, kafka.TopicConfig{Partitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	group := testhelp.UniqueName(t, "g")
	var counter countingDialer
	bob, err := kafka.NewClient(ctx, tc.ListenerServers("SASL"), kafka.WithDialer(counter.dial),
		kafka.WithSASL(kafka.SASLConfig{Mechanism: kafka.SASLScramSHA256, Username: aclUser, Password: aclPassword}))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	// refused checks that err is the authorization error want, that it
	// came at once and without a retry storm, and that it keeps the
	// password to itself.
	refused := func(what string, want error, call func(ctx context.Context) error) {
		t.Helper()
		before := counter.writes.Load()
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := call(cctx)
		cancel()
		took, writes := time.Since(start), counter.writes.Load()-before
		switch {
		case !errors.Is(err, want) || !kafka.IsAuthorization(err):
			t.Errorf("%s: %v, want %v", what, err, want)
		case took > 10*time.Second || writes > 20:
			t.Errorf("%s: refused after %v and %d writes: retried", what, took, writes)
		case strings.Contains(err.Error(), aclPassword):
			t.Errorf("%s: the password is in the error: %v", what, err)
		default:
			t.Logf("%s: %v (%v, %d writes)", what, err, took.Round(time.Millisecond), writes)
		}
	}
	allow := func(acls ...kafka.ACL) {
		t.Helper()
		for i := range acls {
			acls[i].Principal = "User:" + aclUser
		}
		if res, err := admin.CreateACLs(ctx, acls...); err != nil {
			t.Fatalf("CreateACLs: %v %+v", err, res)
		}
	}

	// No right at all.
	refused("Topic", kafka.ErrTopicAuthorization, func(ctx context.Context) error { _, err := bob.Topic(ctx, topic); return err })
	refused("DescribeTopics", kafka.ErrTopicAuthorization, func(ctx context.Context) error { _, err := bob.DescribeTopics(ctx, topic); return err })
	refused("DescribeConfigs", kafka.ErrTopicAuthorization, func(ctx context.Context) error {
		_, err := bob.DescribeConfigs(ctx, kafka.ConfigResource{Type: kafka.ConfigTopic, Name: topic})
		return err
	})
	refused("CreateTopics", kafka.ErrTopicAuthorization, func(ctx context.Context) error {
		_, err := bob.CreateTopics(ctx, kafka.NewTopic{Name: topic + "-new", TopicConfig: kafka.TopicConfig{Partitions: 1}})
		return err
	})
	refused("DeleteTopics", kafka.ErrTopicAuthorization, func(ctx context.Context) error { _, err := bob.DeleteTopics(ctx, topic); return err })
	refused("DescribeGroups", kafka.ErrGroupAuthorization, func(ctx context.Context) error { _, err := bob.DescribeGroups(ctx, group); return err })
	refused("GroupLag", kafka.ErrGroupAuthorization, func(ctx context.Context) error { _, err := bob.GroupLag(ctx, group); return err })
	refused("ResetGroupOffsets", kafka.ErrGroupAuthorization, func(ctx context.Context) error {
		_, err := bob.ResetGroupOffsets(ctx, group, kafka.GroupOffsetReset{To: kafka.ResetToEarliest, Topics: map[string][]int32{topic: {0}}})
		return err
	})
	refused("DescribeACLs", kafka.ErrClusterAuthorization, func(ctx context.Context) error { _, err := bob.DescribeACLs(ctx, kafka.ACL{}); return err })
	refused("CreateACLs", kafka.ErrClusterAuthorization, func(ctx context.Context) error {
		_, err := bob.CreateACLs(ctx, kafka.ACL{ResourceType: kafka.ACLTopic, ResourceName: topic, Principal: "User:" + aclUser, Operation: kafka.ACLOpAll})
		return err
	})

	// Describe only: the topic is visible, writing and reading are not. An
	// idempotent producer (the default) is refused its producer id
	// (IDEMPOTENT_WRITE on the cluster, or WRITE on some topic); one with
	// acks=1 is refused the write itself.
	//
	// Both engines produce and consume. The write count of refused covers
	// the pure engine's requests only: librdkafka's connections are its
	// own.
	allow(kafka.ACL{ResourceType: kafka.ACLTopic, ResourceName: topic, Operation: kafka.ACLOpDescribe})
	for _, e := range engines {
		engine := kafka.EnginePure
		if e.rdkafka {
			engine = kafka.EngineRdkafka
			if !rdkafka.Enabled { // a build without cgo: the typed refusal
				if _, err := bob.NewProducer(kafka.ProducerConfig{Engine: engine}); !errors.Is(err, kafka.ErrEngineNotEnabled) {
					t.Fatalf("EngineRdkafka without the engine: %v", err)
				}
				continue
			}
		}
		for _, pc := range []struct {
			name string
			cfg  kafka.ProducerConfig
			want error
		}{
			{"Produce idempotent", kafka.ProducerConfig{Sync: true, Engine: engine}, kafka.ErrClusterAuthorization},
			{"Produce acks=1", kafka.ProducerConfig{Sync: true, Acks: kafka.AcksLeader, Engine: engine}, kafka.ErrTopicAuthorization},
		} {
			p, err := bob.NewProducer(pc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			refused(e.name+": "+pc.name, pc.want, func(ctx context.Context) error {
				return p.Produce(ctx, []byte("v"), kafka.ToTopic(topic), kafka.ToPartition(0))
			})
			p.Close(context.Background())
		}
		refused(e.name+": Consume", kafka.ErrTopicAuthorization, func(ctx context.Context) error {
			c, err := bob.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Topics: map[string][]int32{topic: nil},
				ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetEarliest, Engine: engine}})
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			_, err = c.Consume(ctx)
			return err
		})
	}

	// Reading the topic and describing the group (to fetch its offsets),
	// not reading the group: commits are refused.
	allow(kafka.ACL{ResourceType: kafka.ACLTopic, ResourceName: topic, Operation: kafka.ACLOpRead},
		kafka.ACL{ResourceType: kafka.ACLGroup, ResourceName: group, Operation: kafka.ACLOpDescribe})
	p, err := admin.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kafka.Message{Topic: topic, Value: []byte("v"), Partition: 0, PartitionSet: true}).Err(); err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	c, err := bob.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, Topics: map[string][]int32{topic: {0}},
		ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetEarliest}})
	if err != nil {
		t.Fatalf("a consumer of the group with DESCRIBE on it: %v", err)
	}
	defer c.Close(context.Background())
	m, err := c.Consume(ctx)
	if err != nil {
		t.Fatalf("Consume with READ: %v", err)
	}
	refused("CommitMessages", kafka.ErrGroupAuthorization, func(ctx context.Context) error { return c.CommitMessages(ctx, m) })

	// The admin API sees and takes back the ACLs.
	got, err := admin.DescribeACLs(ctx, kafka.ACL{Principal: "User:" + aclUser})
	if err != nil || len(got) != 3 {
		t.Fatalf("DescribeACLs: %v %+v", err, got)
	}
	for _, a := range got {
		if a.ResourceType == kafka.ACLGroup && a.ResourceName != group || a.ResourceType == kafka.ACLTopic && a.ResourceName != topic ||
			a.Pattern != kafka.ACLPatternLiteral || a.Host != "*" || a.Permission != kafka.ACLAllow {
			t.Fatalf("DescribeACLs: %+v", a)
		}
	}
	// Kafka matches every filter of one request against the ACLs as they
	// were before it: the second filter reports the first one's too.
	del, err := admin.DeleteACLs(ctx, kafka.ACL{Principal: "User:" + aclUser, Operation: kafka.ACLOpDescribe}, kafka.ACL{Principal: "User:" + aclUser})
	if err != nil || len(del[0].Deleted) != 2 || len(del[1].Deleted) != 3 {
		t.Fatalf("DeleteACLs: %v %+v", err, del)
	}
	testhelp.Eventually(t, 30*time.Second, "the rights taken back", func() error {
		_, err := bob.DescribeTopics(ctx, topic)
		if !errors.Is(err, kafka.ErrTopicAuthorization) {
			return errors.New("bob still describes the topic")
		}
		return nil
	})
}
