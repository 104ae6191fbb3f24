package testinstance

import (
	"strconv"
	"strings"
)

// Share groups (KIP-932, "queues"). Kafka 4.1 made them a feature of the
// cluster, share.version, off by default there and on by default from 4.2
// (the level a cluster starts with is chosen when its storage is
// formatted). Start formats Kafka 4.1 and newer with share.version=1, so
// share groups work whatever the release's default, and sets the broker
// configs below; older Kafka (3.9) has no share groups and gets neither.

// shareFormatArgs are the StorageTool arguments that enable share groups.
func shareFormatArgs(version string) []string {
	if !atLeast(version, 4, 1) {
		return nil
	}
	return []string{"--feature", "share.version=1"}
}

// shareBrokerProperties are the broker configs of share groups, sized for
// tests on a small machine. The lower bounds let a test choose short
// record locks and sessions for its group (the group configs
// share.record.lock.duration.ms and share.session.timeout.ms); the
// defaults stay Kafka's but for the heartbeat interval, 1s rather than 5s,
// so that members learn their assignment quickly, and the session, 10s
// rather than 45s, so that a killed member leaves the group quickly.
func shareBrokerProperties(version string) map[string]string {
	if !atLeast(version, 4, 1) {
		return nil
	}
	return map[string]string{
		// __share_group_state, where share coordinators keep what each
		// group acknowledged, is replicated like __consumer_offsets
		// (brokerProperties sets that for every version), with 3
		// partitions rather than 50, which a 2-core machine creates
		// slowly.
		"share.coordinator.state.topic.num.partitions": "3",
		"share.coordinator.threads":                    "1",
		"group.share.min.heartbeat.interval.ms":        "500",
		"group.share.heartbeat.interval.ms":            "1000",
		"group.share.min.session.timeout.ms":           "1000",
		"group.share.session.timeout.ms":               "10000",
		"group.share.min.record.lock.duration.ms":      "1000",
	}
}

// atLeast reports whether version (major.minor[.patch...]) is major.minor
// or newer. A version that does not parse counts as new: the default is
// the newest release.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}
