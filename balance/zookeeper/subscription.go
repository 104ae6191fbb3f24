package zookeeper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// What a member reads is written in its ids node, in the format of Kafka's
// old high-level consumer (ZookeeperConsumerConnector.registerConsumerInZK
// and TopicCount): every member can then compute what every other reads,
// and so the same assignment.

// registration is the data of an ids node.
type registration struct {
	Version int `json:"version"`
	// Subscription maps each topic (for "static") or the one regular
	// expression (for "white_list" and "black_list") to the number of
	// consumer streams, which is always 1 here.
	Subscription map[string]int `json:"subscription"`
	Pattern      string         `json:"pattern"`
	Timestamp    string         `json:"timestamp"`
}

// The kinds of registration, in its "pattern" field.
const (
	kindStatic    = "static"     // the topics listed
	kindWhiteList = "white_list" // the topics whose whole name matches
	kindBlackList = "black_list" // the topics whose whole name does not match
)

// registrationData is what a member with subscription s writes in its ids
// node: "static" with the topics, as the old consumer did for a topic list;
// "white_list" with the regular expression for a pattern, the old
// consumer's wildcard form. The format has no room for both, so a pattern
// with topics is written as one expression that also matches each topic:
// (?:pattern)|topic1|topic2. Go's syntax is written as it is: for the
// expressions people write for topic names, Java (the old consumer) reads
// it the same way.
func registrationData(s balance.Subscription, now time.Time) []byte {
	r := registration{
		Version:      1,
		Subscription: map[string]int{},
		Pattern:      kindStatic,
		Timestamp:    strconv.FormatInt(now.UnixMilli(), 10),
	}
	if s.Pattern == nil {
		for _, t := range s.Topics {
			r.Subscription[t] = 1
		}
	} else {
		expr := s.Pattern.String()
		if len(s.Topics) > 0 {
			alts := []string{"(?:" + expr + ")"}
			for _, t := range s.Topics {
				alts = append(alts, regexp.QuoteMeta(t))
			}
			expr = strings.Join(alts, "|")
		}
		r.Subscription[expr], r.Pattern = 1, kindWhiteList
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a pattern's < > & stay readable for other tools
	_ = enc.Encode(r)        // maps of strings and ints always encode
	return bytes.TrimRight(b.Bytes(), "\n")
}

// interest is what one member reads, as its registration says.
type interest struct {
	topics  []string       // listed topics, sorted
	pattern *regexp.Regexp // nil: none; anchored at both ends
	exclude bool           // black_list: the topics that do not match pattern
	// reads remembers, per topic name, whether pattern (with exclude)
	// selects it: the member evaluates every subscription at each metadata
	// update of its client, and remembering cuts that check's CPU time by
	// more than half (BenchmarkMetadataCheck, 2,000 topics: about 0.8 ms
	// to 0.3 ms). Made with the pattern, so copies of an interest share
	// it; see read for its bound.
	reads map[string]bool
	// unknown: the registration could not be read. Such a member is taken
	// to read what this member reads: counting a member that does not
	// read a topic leaves its share of the topic unowned, not counting one
	// that does makes both claim the same partitions (which the owner
	// nodes refuse, so claims fail and retry); either way the log says
	// why.
	unknown bool
}

// ownInterest is what this member reads.
func ownInterest(s balance.Subscription) interest {
	in := interest{topics: s.Topics}
	if s.Pattern != nil {
		in.pattern, _ = balance.FullMatch(s.Pattern) // Subscription.Check made sure it anchors
		in.reads = map[string]bool{}
	}
	return in
}

// decodeRegistration reads another member's ids node. Three forms are
// understood: the old consumer's JSON with "static" topics, the same with a
// "white_list" or "black_list" regular expression, and PyKafka's bare topic
// name. A pattern is compiled with Go's regexp: Java constructs that RE2
// lacks (look-around, back-references, possessive quantifiers) fail, and
// the registration is then unknown.
func decodeRegistration(data []byte) (interest, error) {
	if cluster.ValidTopicName(string(data)) == nil {
		return interest{topics: []string{string(data)}}, nil // PyKafka
	}
	var r registration
	if err := json.Unmarshal(data, &r); err != nil {
		return interest{}, errors.New("neither the old consumer's JSON nor a topic name")
	}
	switch r.Pattern {
	case kindStatic:
		if len(r.Subscription) == 0 {
			return interest{}, errors.New("a static subscription without topics")
		}
		return interest{topics: slices.Sorted(maps.Keys(r.Subscription))}, nil
	case kindWhiteList, kindBlackList:
		if len(r.Subscription) != 1 {
			return interest{}, fmt.Errorf("a %s subscription with %d expressions, want 1", r.Pattern, len(r.Subscription))
		}
		for expr := range r.Subscription {
			re, err := regexp.Compile(expr)
			if err != nil {
				return interest{}, fmt.Errorf("pattern %q is not one Go's regexp reads: %w", expr, err)
			}
			anchored, err := balance.FullMatch(re)
			if err != nil {
				return interest{}, fmt.Errorf("pattern %q cannot be anchored: %w", expr, err)
			}
			return interest{pattern: anchored, exclude: r.Pattern == kindBlackList, reads: map[string]bool{}}, nil
		}
	}
	return interest{}, fmt.Errorf("unknown subscription kind %q", r.Pattern)
}

// read lists, sorted, the topics of snap (and the listed ones, which may
// not exist) that the member reads. Internal topics never match a pattern,
// as with Java's consumers.
func (in *interest) read(snap *cluster.Snapshot) []string {
	if in.pattern == nil {
		return in.topics
	}
	if len(in.reads) > 2*len(snap.Topics)+64 {
		clear(in.reads) // forget deleted topics; the bound on the memo
	}
	out := slices.Clone(in.topics)
	for name, t := range snap.Topics {
		if t.Internal || t.Err != nil || slices.Contains(in.topics, name) {
			continue
		}
		ok, known := in.reads[name]
		if !known {
			ok = in.pattern.MatchString(name) != in.exclude
			in.reads[name] = ok
		}
		if ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// topicCounts returns the partition count of each of topics in snap. A
// topic that does not exist (deleted, or not created yet) is absent, so
// nobody is assigned its partitions; one that reports another error (a
// broker's transient trouble, an authorization failure) keeps its count
// from last, if it had one.
func topicCounts(snap *cluster.Snapshot, topics []string, last map[string]int32) map[string]int32 {
	out := make(map[string]int32, len(topics))
	for _, name := range topics {
		t, err := snap.Topic(name)
		switch {
		case err == nil:
			out[name] = int32(len(t.Partitions))
		case errors.Is(err, kerr.ErrUnknownTopic):
		default:
			if n, ok := last[name]; ok {
				out[name] = n
			}
		}
	}
	return out
}

// countsChange describes what changed from before to after ("" if
// nothing), for the log.
func countsChange(before, after map[string]int32) string {
	var changes []string
	for _, t := range slices.Sorted(maps.Keys(after)) {
		n, had := before[t]
		switch {
		case !had:
			changes = append(changes, fmt.Sprintf("topic %s appeared with %d partitions", t, after[t]))
		case n != after[t]:
			changes = append(changes, fmt.Sprintf("topic %s went from %d to %d partitions", t, n, after[t]))
		}
	}
	for _, t := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[t]; !ok {
			changes = append(changes, fmt.Sprintf("topic %s is gone", t))
		}
	}
	return strings.Join(changes, "; ")
}

// describe is a subscription for the log.
func describe(s balance.Subscription) string {
	parts := slices.Clone(s.Topics)
	if s.Pattern != nil {
		parts = append(parts, "/"+s.Pattern.String()+"/")
	}
	return strings.Join(parts, ",")
}
