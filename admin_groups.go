package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupType is the protocol of a group, as Kafka names it.
type GroupType string

// The group types of Kafka 4.x (ListGroups v5+).
const (
	// GroupClassic: the JoinGroup/SyncGroup protocol of the Java client
	// before 4.0, librdkafka, kcat -G, and gokafka's managed members.
	GroupClassic GroupType = "classic"
	// GroupConsumer: KIP-848's protocol, where the coordinator assigns
	// (Java's group.protocol=consumer).
	GroupConsumer GroupType = "consumer"
	// GroupShare: a share group (KIP-932).
	GroupShare GroupType = "share"
	// GroupStreams: a Kafka Streams group (KIP-1071).
	GroupStreams GroupType = "streams"
)

// GroupListing is one group of ListGroups.
type GroupListing struct {
	ID string
	// Type is the group's protocol; empty from a broker that does not
	// tell (before Kafka 3.8).
	Type GroupType
	// State is Kafka's name for it: Stable, Empty, PreparingRebalance,
	// CompletingRebalance, Dead (classic); Stable, Empty, Assigning,
	// Reconciling, NotReady (consumer, share).
	State string
	// ProtocolType is what the members say they are: "consumer" for
	// consumer groups, "connect" for Kafka Connect workers, ...
	ProtocolType string
	Coordinator  int32 // the broker that coordinates the group
}

// ListGroupsOptions filter ListGroups. The zero value lists every group.
type ListGroupsOptions struct {
	Types  []GroupType // only groups of these types
	States []string    // only groups in these states (Kafka's names, any case)
}

// ListGroups lists the cluster's groups, sorted by id, asking every broker
// for those it coordinates (ListGroups). Filters are applied by the
// brokers where they can (Kafka 3.8+ for types). A broker that fails makes
// the call fail, with the groups of the others.
func (c *Client) ListGroups(ctx context.Context, opts ListGroupsOptions) ([]GroupListing, error) {
	brokers, err := c.liveBrokers(ctx)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []GroupListing
	var errs []error
	for _, b := range brokers {
		wg.Go(func() {
			req := kmsg.NewPtrListGroupsRequest()
			req.StatesFilter = opts.States
			for _, t := range opts.Types {
				req.TypesFilter = append(req.TypesFilter, string(t))
			}
			resp, err := c.brokerRequest(ctx, b.ID, req)
			if err == nil {
				r := resp.(*kmsg.ListGroupsResponse)
				if err = kerr.ForCode(r.ErrorCode); err == nil {
					mu.Lock()
					for _, g := range r.Groups {
						l := GroupListing{ID: g.Group, Type: GroupType(g.GroupType), State: g.GroupState, ProtocolType: g.ProtocolType, Coordinator: b.ID}
						if keepGroup(opts, r.Version) {
							out = append(out, l)
						}
					}
					mu.Unlock()
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, &AdminError{Op: "list groups of", Item: fmt.Sprintf("broker %d", b.ID), Err: err})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b GroupListing) int { return cmp.Compare(a.ID, b.ID) })
	return out, errors.Join(errs...)
}

// keepGroup applies the filters a broker of version v could not.
func keepGroup(opts ListGroupsOptions, v int16) bool {
	if v < 5 && len(opts.Types) > 0 && !slices.Contains(opts.Types, GroupClassic) {
		return false // before v5 every group is classic
	}
	return true
}

// GroupMember is one member of a group.
type GroupMember struct {
	ID         string
	InstanceID string // static membership; empty for none
	ClientID   string
	Host       string // as Kafka reports it, e.g. "/127.0.0.1"
	// Assignment is what the member owns, sorted.
	Assignment []TopicPartition
	// SubscribedTopics are what a consumer or share group member reads
	// (classic members keep it in their protocol metadata: nil).
	SubscribedTopics []string
}

// GroupDescription is one group of DescribeGroups.
type GroupDescription struct {
	ID    string
	Type  GroupType
	State string // see GroupListing.State
	// ProtocolType is "consumer" for a classic consumer group ("" for
	// consumer and share groups, which have none).
	ProtocolType string
	// Protocol is the assignor: range, roundrobin, cooperative-sticky
	// (classic, chosen by the members); uniform, range, simple (consumer
	// and share groups, chosen by the coordinator).
	Protocol    string
	Coordinator int32 // the coordinating broker
	Epoch       int32 // the group epoch of a consumer or share group; -1 for classic
	Members     []GroupMember
	Err         error
}

// DescribeGroups describes the groups, in the order given: type, state,
// protocol, members with their client ids, hosts and assignments. Each
// group is asked of its coordinator, with the API of its type
// (ConsumerGroupDescribe for consumer groups, ShareGroupDescribe for share
// groups, DescribeGroups for classic ones). A group that does not exist
// fails alone with ErrUnknownGroup.
func (c *Client) DescribeGroups(ctx context.Context, ids ...string) ([]GroupDescription, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	out := make([]GroupDescription, len(ids))
	err := eachItem("describe group", len(ids), func(i int) (string, error) {
		out[i] = c.describeGroup(ctx, ids[i])
		return out[i].ID, out[i].Err
	})
	return out, err
}

// describeGroup describes one group: as a consumer group, else as a
// classic one, else as a share group; the first API that knows it answers.
func (c *Client) describeGroup(ctx context.Context, id string) GroupDescription {
	d := GroupDescription{ID: id, Epoch: -1}
	g, err := offsets.NewGroup(c.cluster, id, offsets.GroupOptions{Timeout: -1})
	if err != nil {
		d.Err = err
		return d
	}
	found := false
	for _, try := range []func(*GroupDescription) (kmsg.Request, func(kmsg.Response) (bool, error)){describeConsumerGroup, describeClassicGroup, describeShareGroup} {
		req, parse := try(&d)
		d.Coordinator, err = g.Request(ctx, "describe", req, func(resp kmsg.Response) error {
			var perr error
			found, perr = parse(resp)
			return perr
		})
		if notThisType(err) {
			err, found = nil, false // the broker lacks the API: try the next
		}
		if err != nil || found {
			break
		}
	}
	switch {
	case err != nil:
		d.Err = err
	case !found:
		d.Err = fmt.Errorf("%w: %q", ErrUnknownGroup, id)
	}
	return d
}

// notThisType reports whether err means that the group is not of the API's
// type (or that the broker lacks the API): try the next one.
func notThisType(err error) bool {
	return errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, kerr.UnsupportedVersion)
}

func describeConsumerGroup(d *GroupDescription) (kmsg.Request, func(kmsg.Response) (bool, error)) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{d.ID}
	return req, func(resp kmsg.Response) (bool, error) {
		g, err := groupIn(resp.(*kmsg.ConsumerGroupDescribeResponse).Groups, d.ID, "ConsumerGroupDescribe", func(g *kmsg.ConsumerGroupDescribeResponseGroup) (string, int16, *string) {
			return g.Group, g.ErrorCode, g.ErrorMessage
		})
		if g == nil {
			return false, err
		}
		d.Type, d.State, d.Protocol, d.Epoch = GroupConsumer, g.State, g.AssignorName, g.Epoch
		d.Members = nil
		for _, m := range g.Members {
			d.Members = append(d.Members, GroupMember{ID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost, SubscribedTopics: m.SubscribedTopics,
				Assignment: assignment(m.Assignment.TopicPartitions, func(t *kmsg.AssignmentTopicPartition) (string, []int32) { return t.Topic, t.Partitions })})
		}
		return true, nil
	}
}

func describeClassicGroup(d *GroupDescription) (kmsg.Request, func(kmsg.Response) (bool, error)) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{d.ID}
	return req, func(resp kmsg.Response) (bool, error) {
		g, err := groupIn(resp.(*kmsg.DescribeGroupsResponse).Groups, d.ID, "DescribeGroups", func(g *kmsg.DescribeGroupsResponseGroup) (string, int16, *string) {
			return g.Group, g.ErrorCode, g.ErrorMessage
		})
		if g == nil || g.State == "Dead" { // Dead: what a classic coordinator says of a group it does not know
			return false, err
		}
		d.Type, d.State, d.ProtocolType, d.Protocol = GroupClassic, g.State, g.ProtocolType, g.Protocol
		d.Members = nil
		for _, m := range g.Members {
			gm := GroupMember{ID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, Host: m.ClientHost}
			if g.ProtocolType == "consumer" && len(m.MemberAssignment) > 0 {
				var a kmsg.ConsumerMemberAssignment
				if err := a.ReadFrom(m.MemberAssignment); err == nil {
					gm.Assignment = assignment(a.Topics, func(t *kmsg.ConsumerMemberAssignmentTopic) (string, []int32) { return t.Topic, t.Partitions })
				}
			}
			d.Members = append(d.Members, gm)
		}
		return true, nil
	}
}

func describeShareGroup(d *GroupDescription) (kmsg.Request, func(kmsg.Response) (bool, error)) {
	req := kmsg.NewPtrShareGroupDescribeRequest()
	req.GroupIDs = []string{d.ID}
	return req, func(resp kmsg.Response) (bool, error) {
		g, err := groupIn(resp.(*kmsg.ShareGroupDescribeResponse).Groups, d.ID, "ShareGroupDescribe", func(g *kmsg.ShareGroupDescribeResponseGroup) (string, int16, *string) {
			return g.GroupID, g.ErrorCode, g.ErrorMessage
		})
		if g == nil {
			return false, err
		}
		d.Type, d.State, d.Protocol, d.Epoch = GroupShare, g.GroupState, g.Assignor, g.GroupEpoch
		d.Members = nil
		for _, m := range g.Members {
			d.Members = append(d.Members, GroupMember{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, SubscribedTopics: m.SubscribedTopicNames,
				Assignment: assignment(m.Assignment.TopicPartitions, func(t *kmsg.ShareGroupDescribeResponseGroupMemberAssignmentTopicPartition) (string, []int32) {
					return t.Topic, t.Partitions
				})})
		}
		return true, nil
	}
}

// groupIn finds group id among the groups of a describe answer (api names
// it) and checks its error code: nil and a nil error if the coordinator
// does not know the group as the API's type (notThisType), nil and the
// error if it refused, nil and ErrCorruptResponse if the answer lacks the
// group. of reads a group's id, error code and message.
func groupIn[G any](groups []G, id, api string, of func(*G) (string, int16, *string)) (*G, error) {
	for i := range groups {
		name, code, msg := of(&groups[i])
		if name != id {
			continue
		}
		if err := kerr.WithMessage(code, msg); err != nil {
			if notThisType(err) {
				return nil, nil
			}
			return nil, err
		}
		return &groups[i], nil
	}
	return nil, fmt.Errorf("%w: group missing from the %s response", ErrCorruptResponse, api)
}

// assignment is a member's assignment as a sorted list: of reads an
// answer's topic entry (name, partitions).
func assignment[T any](topics []T, of func(*T) (string, []int32)) []TopicPartition {
	var out []TopicPartition
	for i := range topics {
		topic, ps := of(&topics[i])
		for _, p := range ps {
			out = append(out, TopicPartition{Topic: topic, Partition: p})
		}
	}
	slices.SortFunc(out, TopicPartition.Compare)
	return out
}

// GroupResult is the outcome of one group of DeleteGroups.
type GroupResult struct {
	ID  string
	Err error
}

// DeleteGroups deletes groups and their committed offsets, each at its
// coordinator. A group with members fails alone with ErrNonEmptyGroup, one
// that does not exist with ErrUnknownGroup.
func (c *Client) DeleteGroups(ctx context.Context, ids ...string) ([]GroupResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	out := make([]GroupResult, len(ids))
	err := eachItem("delete group", len(ids), func(i int) (string, error) {
		out[i] = GroupResult{ID: ids[i], Err: c.deleteGroup(ctx, ids[i])}
		return out[i].ID, out[i].Err
	})
	return out, err
}

// deleteGroup deletes one group at its coordinator.
func (c *Client) deleteGroup(ctx context.Context, id string) error {
	g, err := offsets.NewGroup(c.cluster, id, offsets.GroupOptions{Timeout: -1})
	if err != nil {
		return err
	}
	var itemErr error
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Groups = []string{id}
	_, err = g.Request(ctx, "delete", req, func(resp kmsg.Response) error {
		for _, rg := range resp.(*kmsg.DeleteGroupsResponse).Groups {
			if rg.Group != id {
				continue
			}
			err := kerr.WithMessage(rg.ErrorCode, rg.ErrorMessage)
			if offsets.CoordinatorMoved(err, false) || errors.Is(err, kerr.CoordinatorLoadInProgress) {
				return err // Request retries
			}
			itemErr = err
			return nil
		}
		return fmt.Errorf("%w: group missing from the DeleteGroups response", ErrCorruptResponse)
	})
	if err == nil {
		err = itemErr
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = fmt.Errorf("%w: %q", ErrUnknownGroup, id)
	}
	return err
}
