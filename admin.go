package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Administration
//
// The Client administers the cluster it is connected to, as Kafka's own
// kafka-topics, kafka-configs, kafka-consumer-groups and kafka-acls tools
// do, in one file per concern:
//
//	admin_topics.go   ListTopics, DescribeTopics, CreateTopics, DeleteTopics,
//	                  CreatePartitions, DeleteRecords (and CreateTopic,
//	                  DeleteTopic in topic.go, for one topic)
//	admin_configs.go  DescribeConfigs, AlterConfigs (incremental)
//	admin_groups.go   ListGroups, DescribeGroups, DeleteGroups
//	admin_offsets.go  GroupLag (committed offsets and lag), ResetGroupOffsets,
//	                  DeleteGroupOffsets
//	admin_cluster.go  DescribeCluster, APIVersions
//	admin_acls.go     CreateACLs, DescribeACLs, DeleteACLs
//
// Every call takes a context, which bounds it, retries included: what the
// cluster says will pass (a controller or coordinator that moved or is
// loading, a lost connection) is retried with backoff until ctx ends.
//
// Calls about several items (topics, groups, partitions, ACLs) return one
// result per item, each with its own Err: one topic that does not exist
// fails alone, and the others are done. The error returned beside the
// results is nil when every item succeeded; otherwise it joins one
// *AdminError per failed item (errors.Is(err, ErrUnknownTopic) tests
// whether any item failed so), or it is the error of the whole call (no
// broker reachable, ctx ended before any answer) and the results are nil.
//
// Errors are typed: broker codes are *BrokerError values
// (ErrTopicAlreadyExists, ErrGroupAuthorization, ...; IsAuthorization tells
// any refusal for lack of rights), client conditions are sentinels
// (ErrUnknownTopic, ErrUnknownGroup, ErrGroupNotEmpty, ...).
//
// The calls work against Kafka 3.9 and 4.x; each request's version is
// negotiated per broker.

// Admin errors.
var (
	ErrUnknownGroup      = kerr.ErrUnknownGroup      // the consumer group does not exist
	ErrGroupNotEmpty     = kerr.ErrGroupNotEmpty     // the group has live members (ResetGroupOffsets refuses)
	ErrNoCommittedOffset = kerr.ErrNoCommittedOffset // a shift of a partition without a committed offset

	ErrClusterAuthorization = kerr.ClusterAuthorizationFailed // the principal may not do this on the cluster
	ErrNonEmptyGroup        = kerr.NonEmptyGroup              // the broker's refusal to delete a group with members
	ErrGroupIDNotFound      = kerr.GroupIDNotFound            // the broker's answer for a group it does not know
	ErrGroupSubscribed      = kerr.GroupSubscribedToTopic     // offsets of a topic that live members read cannot be deleted
	ErrPolicyViolation      = kerr.PolicyViolation
	ErrInvalidConfigValue   = kerr.InvalidConfig // a config name or value the broker refuses
)

// IsAuthorization reports whether err is a broker's refusal for lack of
// rights (TOPIC_, GROUP_, CLUSTER_, TRANSACTIONAL_ID_ or
// DELEGATION_TOKEN_AUTHORIZATION_FAILED). Such errors are never retried.
func IsAuthorization(err error) bool { return kerr.IsAuthorization(err) }

// AdminError is why one item of an admin call failed. The calls return an
// errors.Join of them beside their per-item results.
type AdminError struct {
	Op   string // what was done: "create topic", "describe group", ...
	Item string // which item: a topic, a group, "topic/partition", a resource, an ACL
	Err  error
}

func (e *AdminError) Error() string {
	return fmt.Sprintf("kafka: %s %s: %s", e.Op, e.Item, strings.TrimPrefix(e.Err.Error(), "kafka: "))
}

func (e *AdminError) Unwrap() error { return e.Err }

// itemErrors collects the failed items of one call.
type itemErrors struct {
	op   string
	errs []error
}

// add records item's error, if any, and returns it unchanged.
func (ie *itemErrors) add(item string, err error) error {
	if err != nil {
		ie.errs = append(ie.errs, &AdminError{Op: ie.op, Item: item, Err: err})
	}
	return err
}

func (ie *itemErrors) err() error { return errors.Join(ie.errs...) }

// eachItem runs do for items 0..n-1 at once, each writing its own result,
// and waits for all of them; it returns, joined, one *AdminError (op, the
// name do gives its item) per item that failed, in the items' order.
func eachItem(op string, n int, do func(i int) (item string, err error)) error {
	names, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { names[i], errs[i] = do(i) })
	}
	wg.Wait()
	ie := itemErrors{op: op}
	for i := range n {
		ie.add(names[i], errs[i])
	}
	return ie.err()
}

// requestEach sends the requests of reqs (by destination: a broker id, or
// -1 for any broker) at once with send, and hands each answer or failure
// to answer, one at a time (answers fill shared results); it returns once
// every request is answered.
func requestEach[R kmsg.Request](ctx context.Context, reqs map[int32]R, send func(context.Context, int32, kmsg.Request) (kmsg.Response, error), answer func(req R, resp kmsg.Response, err error)) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for dest, req := range reqs {
		wg.Go(func() {
			resp, err := send(ctx, dest, req)
			mu.Lock()
			defer mu.Unlock()
			answer(req, resp, err)
		})
	}
	wg.Wait()
}

// timeoutMillis is the time a request asks the broker to wait: ctx's time
// left, or 30 s.
func timeoutMillis(ctx context.Context) int32 {
	if d, ok := ctx.Deadline(); ok {
		return int32(min(max(time.Until(d), time.Millisecond), 5*time.Minute) / time.Millisecond)
	}
	return 30000
}

// anyRequest sends req to any broker, retrying retriable failures (a lost
// connection, a broker that is starting) with backoff until ctx ends.
func (c *Client) anyRequest(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.cluster.AnyRequest(ctx, req)
		if err == nil || ctx.Err() != nil || !(kerr.IsRetriable(err) || errors.Is(err, kerr.ErrNoBrokers) && attempt < 3) {
			return resp, err
		}
		if serr := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); serr != nil {
			return nil, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// brokerRequest sends req to broker id, retrying lost connections with
// backoff until ctx ends.
func (c *Client) brokerRequest(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		b, err := c.cluster.Broker(id)
		var resp kmsg.Response
		if err == nil {
			resp, err = b.Request(ctx, req)
		}
		if err == nil || ctx.Err() != nil || !kerr.IsRetriable(err) {
			return resp, err
		}
		c.cluster.TriggerRefresh()
		if serr := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); serr != nil {
			return nil, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// liveBrokers refreshes the broker list and returns the brokers' ids,
// sorted.
func (c *Client) liveBrokers(ctx context.Context) ([]Broker, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := c.cluster.RefreshTopics(ctx, []string{}...); err != nil { // brokers only
		return nil, err
	}
	return c.Brokers(), nil
}
