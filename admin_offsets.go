package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionLag is one partition of a group's lag, as kafka-consumer-groups
// --describe prints it (kafka-share-groups --describe for a share group).
type PartitionLag struct {
	TopicPartition
	// Committed is the group's committed offset: the next offset its
	// consumers will read. -1 when the group has none for the partition
	// (a member owns it but has not committed yet). For a share group, it
	// is the share-partition's start offset, the oldest offset not yet
	// acknowledged by the group (Kafka's START-OFFSET).
	Committed int64
	// LogStart and LogEnd are the partition's oldest offset and the offset
	// of the next message produced (the high watermark), -1 if unknown.
	LogStart, LogEnd int64
	// Lag is LogEnd - Committed: how many messages the group has still to
	// read. -1 when either is unknown.
	Lag int64
	// MemberID, ClientID and Host name the live member that owns the
	// partition, empty when none does. Kafka reports what members own,
	// not how far they have read: a member's position is only known to
	// itself (gokafka's consumers give theirs: HeldOffsets, Lag), and
	// the group's progress on the brokers is its committed offset.
	MemberID, ClientID, Host string
	// Err is why the partition's offsets could not be read (a topic
	// deleted since the group committed: ErrUnknownTopic).
	Err error
}

// GroupLag is the committed offsets and lag of one group.
type GroupLag struct {
	Group      string
	Type       GroupType
	State      string
	Members    int            // live members
	Partitions []PartitionLag // sorted by topic and partition
}

// TotalLag is the sum of the partitions' known lags.
func (g *GroupLag) TotalLag() int64 {
	var n int64
	for _, p := range g.Partitions {
		if p.Lag > 0 {
			n += p.Lag
		}
	}
	return n
}

// GroupLag reads a group's committed offsets (every partition it has
// committed, OffsetFetch) and its members' assignments (DescribeGroups),
// and the log start and end offsets of all those partitions (ListOffsets,
// read_uncommitted, as Kafka's tool does), and returns per partition the
// committed offset, the lag (log end minus committed) and the member that
// owns it. For a share group the offsets are the share-partitions' start
// offsets (DescribeShareGroupOffsets), and the lag Kafka's count of what
// is not yet acknowledged where it reports one (4.2+). A group that does
// not exist (no member, no committed offset) is ErrUnknownGroup. Partitions whose offsets cannot be listed carry
// their own Err; the error returned then joins them.
func (c *Client) GroupLag(ctx context.Context, group string) (*GroupLag, error) {
	desc, err := c.DescribeGroups(ctx, group)
	unknown := false
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownGroup):
		unknown = true
	default:
		return nil, err
	}
	var committed map[TopicPartition]int64
	var shareLag map[TopicPartition]int64
	if desc[0].Type == GroupShare {
		committed, shareLag, err = c.shareGroupOffsets(ctx, group)
	} else {
		committed, err = c.CommittedOffsets(ctx, group)
	}
	if err != nil && len(committed) == 0 && offsets.Partitions(err) == nil {
		return nil, err
	}
	if unknown && len(committed) == 0 {
		return nil, desc[0].Err
	}
	out := &GroupLag{Group: group, Type: desc[0].Type, State: desc[0].State, Members: len(desc[0].Members)}
	if unknown {
		out.State = "Empty" // offsets and no member: what Kafka's tool says too
	}
	owner := map[TopicPartition]GroupMember{}
	for _, m := range desc[0].Members {
		for _, tp := range m.Assignment {
			owner[tp] = m
		}
	}
	tps := slices.Collect(maps.Keys(committed))
	for tp := range owner {
		if _, ok := committed[tp]; !ok {
			tps = append(tps, tp)
		}
	}
	slices.SortFunc(tps, TopicPartition.Compare)
	start, serr := offsets.List(ctx, c.cluster, tps, offsets.Earliest)
	end, eerr := offsets.List(ctx, c.cluster, tps, offsets.Latest)
	failed := offsets.Partitions(errors.Join(serr, eerr))
	ie := itemErrors{op: "lag of"}
	for _, tp := range tps {
		pl := PartitionLag{TopicPartition: tp, Committed: -1, LogStart: -1, LogEnd: -1, Lag: -1}
		if off, ok := committed[tp]; ok {
			pl.Committed = off
		}
		if off, ok := start[tp]; ok {
			pl.LogStart = off
		}
		if off, ok := end[tp]; ok {
			pl.LogEnd = off
		}
		if pl.Committed >= 0 && pl.LogEnd >= 0 {
			pl.Lag = max(pl.LogEnd-pl.Committed, 0)
		}
		if lag, ok := shareLag[tp]; ok && lag >= 0 {
			pl.Lag = lag // Kafka's own count (4.2+): what is not yet acknowledged
		}
		if m, ok := owner[tp]; ok {
			pl.MemberID, pl.ClientID, pl.Host = m.ID, m.ClientID, m.Host
		}
		if pe := failed[tp]; pe != nil {
			pl.Err = ie.add(tp.String(), pe.Err)
		}
		out.Partitions = append(out.Partitions, pl)
	}
	return out, ie.err()
}

// CommittedOffsets returns a group's committed offsets (the next offset to
// read) of the given partitions, or of every partition it has committed
// when none is given. A partition the group has not committed is absent.
// Partitions that fail are reported as in offsets.Group.Fetch (one
// *offsets.PartitionError each), beside those that were read.
func (c *Client) CommittedOffsets(ctx context.Context, group string, partitions ...TopicPartition) (map[TopicPartition]int64, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	g, err := offsets.NewGroup(c.cluster, group, offsets.GroupOptions{})
	if err != nil {
		return nil, err
	}
	var got map[TopicPartition]offsets.Commit
	if len(partitions) == 0 {
		got, err = g.FetchAll(ctx)
	} else {
		got, err = g.Fetch(ctx, partitions)
	}
	out := make(map[TopicPartition]int64, len(got))
	for tp, cm := range got {
		out[tp] = cm.Offset
	}
	return out, err
}

// ResetTo is where ResetGroupOffsets moves a group's offsets.
type ResetTo int

// The targets of ResetGroupOffsets, as kafka-consumer-groups --reset-offsets
// names them.
const (
	ResetToEarliest ResetTo = iota + 1 // --to-earliest: the oldest message kept
	ResetToLatest                      // --to-latest: after the last message
	ResetToTime                        // --to-datetime: the first message at or after GroupOffsetReset.Time
	ResetToOffset                      // --to-offset: GroupOffsetReset.Offset
	ResetShiftBy                       // --shift-by: the committed offset plus GroupOffsetReset.Shift
)

// GroupOffsetReset describes a reset of a group's committed offsets.
type GroupOffsetReset struct {
	To     ResetTo
	Time   time.Time // ResetToTime
	Offset int64     // ResetToOffset
	Shift  int64     // ResetShiftBy; negative moves back
	// Topics chooses the partitions: a topic with nil partitions means
	// all of the topic's partitions. Empty: every partition the group has
	// committed offsets for.
	Topics map[string][]int32
	// DryRun computes the new offsets without committing them.
	DryRun bool
}

// OffsetResetResult is one partition of ResetGroupOffsets.
type OffsetResetResult struct {
	TopicPartition
	Previous int64 // the committed offset before; -1 if none
	New      int64 // the committed offset after (or, in a dry run, that would be)
	Err      error
}

// ResetGroupOffsets moves a group's committed offsets, as
// kafka-consumer-groups --reset-offsets --execute does: to the earliest or
// latest offset, to the first offset at or after a time, to an offset, or
// by a shift from the committed one. Offsets are kept within each
// partition's log start and end offsets. The next consumer of the group
// starts each partition where the reset put it.
//
// A group with live members is refused with ErrGroupNotEmpty before
// anything is done, as by Kafka's tool (a member would overwrite the reset
// at its next commit). A group that does not exist yet gets the offsets
// (name its Topics). Results are sorted by partition; a partition that
// cannot be reset (a shift without a committed offset: ErrNoCommittedOffset;
// an unknown topic) fails alone. DryRun returns the results without
// committing.
func (c *Client) ResetGroupOffsets(ctx context.Context, group string, r GroupOffsetReset) ([]OffsetResetResult, error) {
	if r.To < ResetToEarliest || r.To > ResetShiftBy {
		return nil, kerr.Config("GroupOffsetReset.To", "unknown target %d", r.To)
	}
	if r.To == ResetToOffset && r.Offset < 0 {
		return nil, kerr.Config("GroupOffsetReset.Offset", "must not be negative, got %d", r.Offset)
	}
	desc, err := c.DescribeGroups(ctx, group)
	if err != nil && !errors.Is(err, ErrUnknownGroup) {
		return nil, err
	}
	if desc[0].Type == GroupShare {
		return nil, fmt.Errorf("%w: group %q is a share group, whose offsets this call does not reset", ErrUnsupported, group)
	}
	if d := desc[0]; d.Err == nil && len(d.Members) > 0 {
		return nil, fmt.Errorf("%w: group %q is %s with %d members: stop them first", ErrGroupNotEmpty, group, d.State, len(d.Members))
	}
	committed, err := c.CommittedOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	tps, err := c.resetPartitions(ctx, committed, r.Topics)
	if err != nil {
		return nil, err
	}
	ie := itemErrors{op: "reset offset of"}
	results := make([]OffsetResetResult, len(tps))
	start, serr := offsets.List(ctx, c.cluster, tps, offsets.Earliest)
	end, eerr := offsets.List(ctx, c.cluster, tps, offsets.Latest)
	failed := offsets.Partitions(errors.Join(serr, eerr))
	var target map[TopicPartition]int64
	var terr error
	if r.To == ResetToTime {
		target, terr = offsets.List(ctx, c.cluster, tps, r.Time.UnixMilli())
		maps.Copy(failed, offsets.Partitions(terr))
	}
	commits := map[TopicPartition]offsets.Commit{}
	for i, tp := range tps {
		res := OffsetResetResult{TopicPartition: tp, Previous: -1, New: -1}
		if off, ok := committed[tp]; ok {
			res.Previous = off
		}
		var err error
		if pe := failed[tp]; pe != nil {
			err = pe.Err
		} else {
			lo, hi := start[tp], end[tp]
			switch r.To {
			case ResetToEarliest:
				res.New = lo
			case ResetToLatest:
				res.New = hi
			case ResetToTime:
				res.New = target[tp]
			case ResetToOffset:
				res.New = r.Offset
			case ResetShiftBy:
				if res.Previous < 0 {
					err = fmt.Errorf("%w: cannot shift it", ErrNoCommittedOffset)
				}
				res.New = res.Previous + r.Shift
			}
			res.New = min(max(res.New, lo), hi)
		}
		if err != nil {
			res.New = -1
			res.Err = ie.add(tp.String(), err)
		} else {
			commits[tp] = offsets.At(res.New)
		}
		results[i] = res
	}
	if r.DryRun || len(commits) == 0 {
		return results, ie.err()
	}
	g, err := offsets.NewGroup(c.cluster, group, offsets.GroupOptions{})
	if err != nil {
		return nil, err
	}
	cerr := g.Commit(ctx, commits, offsets.Generation{})
	if errors.Is(cerr, kerr.UnknownMemberID) || errors.Is(cerr, kerr.IllegalGeneration) {
		// A member joined since we looked: the broker refuses a commit
		// from outside the group.
		return nil, fmt.Errorf("%w: a member joined group %q during the reset: %w", ErrGroupNotEmpty, group, cerr)
	}
	commitFailed := offsets.Partitions(cerr)
	if cerr != nil && commitFailed == nil {
		return nil, cerr
	}
	for i := range results {
		if pe := commitFailed[results[i].TopicPartition]; pe != nil {
			results[i].Err = ie.add(results[i].String(), pe.Err)
		}
	}
	return results, ie.err()
}

// resetPartitions lists the partitions a reset covers: those named (a nil
// list is every partition of the topic), or every committed one.
func (c *Client) resetPartitions(ctx context.Context, committed map[TopicPartition]int64, topics map[string][]int32) ([]TopicPartition, error) {
	if len(topics) == 0 {
		return slices.SortedFunc(maps.Keys(committed), TopicPartition.Compare), nil
	}
	var tps []TopicPartition
	var all []string
	for t, ps := range topics {
		if err := validTopicName(t); err != nil {
			return nil, err
		}
		if ps == nil {
			all = append(all, t)
			continue
		}
		for _, p := range ps {
			tps = append(tps, TopicPartition{Topic: t, Partition: p})
		}
	}
	if len(all) > 0 {
		desc, err := c.DescribeTopics(ctx, all...)
		if err != nil {
			return nil, err
		}
		for _, d := range desc {
			for _, p := range d.Partitions {
				tps = append(tps, TopicPartition{Topic: d.Name, Partition: p.ID})
			}
		}
	}
	slices.SortFunc(tps, TopicPartition.Compare)
	return slices.Compact(tps), nil
}

// GroupOffsetResult is one partition of DeleteGroupOffsets.
type GroupOffsetResult struct {
	TopicPartition
	Err error
}

// DeleteGroupOffsets removes a group's committed offsets of the given
// partitions (OffsetDelete): the group's consumers then start them from
// their reset policy. A partition of a topic that live members read fails
// alone with ErrGroupSubscribed. Results are sorted by partition.
func (c *Client) DeleteGroupOffsets(ctx context.Context, group string, partitions ...TopicPartition) ([]GroupOffsetResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	g, err := offsets.NewGroup(c.cluster, group, offsets.GroupOptions{})
	if err != nil {
		return nil, err
	}
	derr := g.DeleteOffsets(ctx, partitions)
	failed := offsets.Partitions(derr)
	if derr != nil && failed == nil {
		return nil, derr
	}
	ie := itemErrors{op: "delete offset of"}
	tps := slices.SortedFunc(slices.Values(partitions), TopicPartition.Compare)
	tps = slices.Compact(tps)
	out := make([]GroupOffsetResult, len(tps))
	for i, tp := range tps {
		out[i].TopicPartition = tp
		if pe := failed[tp]; pe != nil {
			err := pe.Err
			if errors.Is(err, kerr.GroupIDNotFound) {
				err = fmt.Errorf("%w: %q", ErrUnknownGroup, group)
			}
			out[i].Err = ie.add(tp.String(), err)
		}
	}
	return out, ie.err()
}

// shareGroupOffsets reads a share group's start offset of every partition
// it has state for (DescribeShareGroupOffsets, Kafka 4.1+), and the lag
// Kafka reports for each (v1, 4.2+; -1 before).
func (c *Client) shareGroupOffsets(ctx context.Context, group string) (start, lag map[TopicPartition]int64, err error) {
	g, err := offsets.NewGroup(c.cluster, group, offsets.GroupOptions{Timeout: -1})
	if err != nil {
		return nil, nil, err
	}
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	rg.GroupID = group // nil Topics: every topic-partition
	req.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{rg}
	ie := itemErrors{op: "share offset of"}
	_, err = g.Request(ctx, "describe share offsets", req, func(resp kmsg.Response) error {
		r := resp.(*kmsg.DescribeShareGroupOffsetsResponse)
		start, lag = map[TopicPartition]int64{}, map[TopicPartition]int64{}
		ie.errs = nil
		for _, rg := range r.Groups {
			if rg.GroupID != group {
				continue
			}
			if err := kerr.WithMessage(rg.ErrorCode, rg.ErrorMessage); err != nil {
				return err
			}
			for _, t := range rg.Topics {
				for _, p := range t.Partitions {
					tp := TopicPartition{Topic: t.Topic, Partition: p.Partition}
					if perr := kerr.WithMessage(p.ErrorCode, p.ErrorMessage); perr != nil {
						ie.add(tp.String(), perr)
						continue
					}
					if p.StartOffset < 0 {
						continue // no state yet
					}
					start[tp] = p.StartOffset
					lag[tp] = -1
					if r.Version >= 1 {
						lag[tp] = p.Lag
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return start, lag, ie.err()
}
