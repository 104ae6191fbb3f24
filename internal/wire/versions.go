package wire

import (
	"fmt"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// versionCaps bounds the versions gokafka speaks, below what kmsg can encode,
// where newer versions change semantics this client does not handle (topic
// ids instead of names in Produce v13, Fetch v13, OffsetCommit/OffsetFetch v10).
var versionCaps = map[int16]int16{
	0:  12, // Produce
	1:  12, // Fetch
	3:  12, // Metadata
	8:  9,  // OffsetCommit
	9:  9,  // OffsetFetch
	18: 4,  // ApiVersions: v4 is what Kafka 3.9 and 4.x both answer
	24: 3,  // AddPartitionsToTxn: v4+ is the brokers' own batched form
	28: 5,  // TxnOffsetCommit: v6 names topics by id
}

// versionFloors are the lowest versions gokafka's code relies on: record
// batches (magic 2) need Produce v3 and Fetch v4; these are also the lowest
// versions Kafka 4.x accepts.
var versionFloors = map[int16]int16{
	0: 3, // Produce
	1: 4, // Fetch
	2: 1, // ListOffsets
	8: 2, // OffsetCommit
	9: 1, // OffsetFetch
}

// Versions is what one broker supports: the broker's [min, max] per API key,
// and the cluster-wide feature levels it reported (KIP-584).
type Versions struct {
	min, max [maxKey + 1]int16
	has      [maxKey + 1]bool

	finalized map[string]int16 // finalized max level per feature name
}

// maxKey bounds the API keys tracked; Kafka's keys are below 100 today.
const maxKey = 127

func versionsFrom(resp *kmsg.ApiVersionsResponse) *Versions {
	v := &Versions{}
	for _, k := range resp.ApiKeys {
		if k.ApiKey < 0 || k.ApiKey > maxKey {
			continue
		}
		v.min[k.ApiKey], v.max[k.ApiKey], v.has[k.ApiKey] = k.MinVersion, k.MaxVersion, true
	}
	if resp.FinalizedFeaturesEpoch >= 0 && len(resp.FinalizedFeatures) > 0 {
		v.finalized = make(map[string]int16, len(resp.FinalizedFeatures))
		for _, f := range resp.FinalizedFeatures {
			v.finalized[f.Name] = f.MaxVersionLevel
		}
	}
	return v
}

// Finalized returns the cluster-wide finalized level of a feature (for
// example "transaction.version") as the broker reported it when the
// connection was made, and whether the broker reported the feature at all.
// Brokers before Kafka 2.7 report none.
func (v *Versions) Finalized(feature string) (level int16, ok bool) {
	level, ok = v.finalized[feature]
	return level, ok
}

// Max returns the broker's highest version of key and whether it supports
// the key at all.
func (v *Versions) Max(key int16) (int16, bool) {
	if key < 0 || key > maxKey || !v.has[key] {
		return 0, false
	}
	return v.max[key], true
}

// Pick returns the version to send req at: the highest that the broker, kmsg
// and gokafka all support.
func (v *Versions) Pick(req kmsg.Request) (int16, error) {
	return v.PickAtMost(req, req.MaxVersion())
}

// PickAtMost is Pick for a caller that may send no version above most: a
// request whose newer versions mean something the caller does not do (a
// transaction of the classic protocol must not send Produce v12 or EndTxn
// v5, which belong to transactions v2).
func (v *Versions) PickAtMost(req kmsg.Request, most int16) (int16, error) {
	key := req.Key()
	if key < 0 || key > maxKey || !v.has[key] {
		return 0, fmt.Errorf("%w: broker does not support API key %d (%s)", kerr.ErrUnsupportedVersion, key, kmsg.NameForKey(key))
	}
	hi := min(req.MaxVersion(), most)
	if c, ok := versionCaps[key]; ok && c < hi {
		hi = c
	}
	if v.max[key] < hi {
		hi = v.max[key]
	}
	lo := v.min[key]
	if f, ok := versionFloors[key]; ok && f > lo {
		lo = f
	}
	if hi < lo {
		return 0, fmt.Errorf("%w: %s: broker supports v%d-v%d, gokafka needs v%d or newer",
			kerr.ErrUnsupportedVersion, kmsg.NameForKey(key), v.min[key], v.max[key], lo)
	}
	return hi, nil
}
