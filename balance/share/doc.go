// Package share is share-group membership (KIP-932, "queues for Kafka"):
// the group's coordinator assigns the partitions of the topics a group
// reads to its members, and, unlike a consumer group's, one partition to
// several members at once — the partition's leader hands each record to
// one member at a time (see pure/internal/share for that side). The root
// package's ShareConsumer uses it.
//
//	m, err := share.Join(ctx, client, share.Config{Group: "jobs", Topics: []string{"tasks"}}, handler)
//	defer m.Close(ctx)
//
// # The protocol
//
// A member names itself (Config.MemberID, a random id kept for the
// member's life) and sends ShareGroupHeartbeat to the group's coordinator,
// found with FindCoordinator (a group coordinator, as for consumer
// groups): epoch 0 to join, with its subscription (topic names; share
// groups have no patterns), then the epoch the coordinator gave, at the
// interval the coordinator dictates (group.share.heartbeat.interval.ms),
// and -1 to leave. An answer carries the member's new assignment when it
// changed, partitions named by topic id, which the member maps to names
// through the cluster's metadata (refreshing it when an id is new). There
// is no rebalance to take part in, no leader, no generation to commit
// under: the coordinator computes the assignment, and the member moves to
// it by itself.
//
// # The member contract
//
// Member implements balance.Member, the contract of the other group
// protocols (balance/zookeeper, balance/managed), and calls a
// balance.Handler: Revoked with the partitions that leave the member's
// assignment, Assigned with those that arrive, Lost with all of them when
// the coordinator dropped the member (UNKNOWN_MEMBER_ID,
// FENCED_MEMBER_EPOCH: it missed its session timeout), after which it
// rejoins at epoch 0 with the same id, as the Java client does. The
// contract fits: a share consumer starts and stops fetching partitions as
// a consumer group member does. What does not apply is documented in
// place: Generation is the zero value (share groups commit no offsets;
// acknowledgements take their place, and ShareFetch carries only the
// member id), and Revoked asks for no commit (records acquired from a
// revoked partition stay the member's until acknowledged or their locks
// expire).
//
// # Support
//
// Share groups need Kafka 4.1 or newer with the share.version feature
// enabled (the default for clusters formatted by Kafka 4.2 and later).
// Join asks a broker's ApiVersions first: without ShareGroupHeartbeat,
// ShareFetch and ShareAcknowledge at v1 (Kafka 4.0 had an early-access v0
// that 4.1 dropped), it fails with an error matching kerr.ErrUnsupported,
// before sending anything else; a coordinator that lists the requests but
// answers UNSUPPORTED_VERSION (the feature off) gives the same error.
//
// # Group configs
//
// Config.GroupConfig is set on the group (IncrementalAlterConfigs of the
// group resource) before the member joins: share.auto.offset.reset (where
// the group starts in a partition it has not read; Kafka's default is
// latest), share.record.lock.duration.ms, share.delivery.count.limit and
// the other group configs. They are the group's, stored by the cluster;
// every member sees the last one set.
//
// # Actors
//
// A Member owns one goroutine, stopped by Close: it heartbeats, calls the
// Handler (one call at a time; a slow Handler delays the next heartbeat),
// and retries what the coordinator says will pass (a coordinator that
// moved or is loading, lost connections) with backoff. Errors retrying
// cannot fix (authorization, the group full, share groups unsupported, a
// closed cluster) end it: its partitions are reported lost and Err says
// why. It talks to the coordinator on a lane (connection) of its own.
package share
