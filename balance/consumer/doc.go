// Package consumer is consumer-group membership on Kafka's consumer group
// protocol (KIP-848, Kafka 4.0 and newer): the broker computes the
// assignment, and each member reconciles with it incrementally, so a member
// joining or leaving moves only the partitions that must move and nobody
// else stops reading. The root package's BalancedConsumer uses it with
// Protocol: GroupProtocolConsumer; it is the balance.Member contract, as
// balance/managed is for the classic protocol and balance/zookeeper for
// ZooKeeper groups.
//
//	m, err := consumer.Join(ctx, client, consumer.Config{
//		Group:        "billing",
//		Subscription: balance.Subscription{Topics: []string{"orders", "refunds"}},
//	}, handler)
//	defer m.Close(ctx)
//	gen := m.Generation() // the member epoch every commit carries
//
// The package is named after the protocol's name in Kafka: the "consumer"
// group type and group.protocol=consumer, beside the "classic" groups of
// balance/managed and the "share" groups. (kip848 would name a document,
// not a thing; "modern" and "next-gen" age.)
//
// # The protocol
//
// A member talks to its group's coordinator (a broker, found with
// FindCoordinator through offsets.Group) with one request,
// ConsumerGroupHeartbeat, sent every heartbeat interval. The first one
// joins (member epoch 0) with the member's subscription — the listed topics
// (SubscribedTopicNames), the pattern (SubscribedTopicRegex), the
// server-side assignor it asks for (ServerAssignor) and its rebalance
// timeout; the member chooses its own id, a random UUID it keeps for its
// lifetime (KIP-1082, ConsumerGroupHeartbeat v1). Every heartbeat reports
// the partitions the member owns; every answer carries the member's epoch,
// the heartbeat interval, and, when it changed, the member's assignment.
//
// There is no group-wide rebalance. When a member joins, leaves or the
// subscribed topics change, the coordinator bumps the group epoch and its
// assignor computes a new target assignment; then each member converges on
// its own target, one heartbeat at a time:
//
//   - a member that must give partitions up is sent its assignment without
//     them: it revokes them (Handler.Revoked, which commits), and its next
//     heartbeat, sent at once, reports the smaller set — the
//     acknowledgement;
//   - a partition is given to its new owner only once its previous owner
//     acknowledged giving it up (the coordinator withholds it meanwhile), so
//     a partition is never owned twice; the new owner gets it with a later
//     answer, Handler.Assigned is called, and the member acknowledges
//     again;
//   - partitions that stay where they are are never revoked: their
//     consumption never stops.
//
// The member is a state machine (state.go) driven from two goroutines: the
// heartbeater records each answer, and the membership loop makes one
// Handler call at a time toward the target, revocations first.
//
// # Member epochs and commits
//
// The coordinator gives each member an epoch, raised as the member
// reconciles. Generation returns it as the generation of commits
// (offsets.Generation: OffsetCommit v9 and newer carry it as
// GenerationIDOrMemberEpoch, with the member id), and follows every
// heartbeat's answer. The coordinator takes a commit at the member's
// current epoch; on Kafka 4.3 (KIP-1251) also one at an older epoch, for the
// partitions the member has owned since that epoch, and refuses it for the
// others with kerr.StaleMemberEpoch; a member it does not know (any more)
// gets kerr.UnknownMemberID. A member that lost its partitions — fenced,
// or cut off until its session expired — can therefore not overwrite the
// offsets of their new owner. (Kafka 4.0-4.2 take the current epoch only:
// a commit racing a heartbeat that raised it fails with
// kerr.StaleMemberEpoch, and an auto-commit tries again at its next
// interval.)
//
// # Fencing and rejoining
//
// A heartbeat answered UNKNOWN_MEMBER_ID (the session expired, or the member
// was removed) or FENCED_MEMBER_EPOCH (the member's epoch is not the
// coordinator's, or it did not revoke within its rebalance timeout) means
// its partitions may be someone else's already: they go to Handler.Lost
// (no commit), and only then does the member rejoin, with the same id and
// epoch 0, owning nothing.
//
// # Static membership
//
// With Config.InstanceID the member is static: the coordinator knows it by
// that id across restarts. Close leaves with epoch -2, which tells the
// coordinator the member will be back: it keeps the member's partitions
// unassigned until the group's session timeout, and a member that joins
// with the same instance id within it gets them back without moving any
// other partition. A dynamic member leaves with epoch -1 and its
// partitions go to the others at once. While a member holds an instance
// id (it has not left, or crashed and its session has not expired), a
// second one cannot join with it: the coordinator answers
// UNRELEASED_INSTANCE_ID, and the newcomer keeps trying until the id is
// released or its Join ctx ends. (The classic protocol does the reverse:
// the newcomer fences the old member.)
//
// # What the broker decides
//
// The session timeout and the heartbeat interval are the group's, not the
// member's: the broker's group.consumer.session.timeout.ms (45s) and
// group.consumer.heartbeat.interval.ms (5s), or the group's own
// consumer.session.timeout.ms and consumer.heartbeat.interval.ms
// (IncrementalAlterConfigs on the GROUP resource). The member heartbeats
// at the interval each answer dictates (HeartbeatInterval). The assignment
// is the broker's too (Config.ServerAssignor asks for one of
// group.consumer.assignors). A member cut off from the coordinator keeps
// its partitions and retries with backoff: it learns that they were taken
// when it reaches the coordinator again (as the Java client does; there is
// no client-side session timer).
//
// Pattern subscriptions are evaluated by the broker (RE2J, whole topic
// names). The coordinator resolves patterns again when topics are created
// or deleted, at most every group.consumer.regex.refresh.interval.ms (10
// minutes by default) and on its own schedule otherwise; a member sees new
// matching topics once the coordinator assigns them. Unlike the Java
// client's classic pattern subscription, the broker does not leave Kafka's
// internal topics out: a pattern that matches __consumer_offsets reads it.
// The member names the topics the coordinator assigns (by id) from the
// cluster's metadata; with a pattern it keeps the metadata of every topic
// fresh (cluster.TrackAll) until it stops, and an id it cannot name yet is
// left unacknowledged until a refresh names it.
//
// # Errors and retries
//
// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, timeouts and lost connections
// lead to a new coordinator lookup and a retry with backoff (the partitions
// stay owned; after a coordinator move the new coordinator has the group's
// state); COORDINATOR_LOAD_IN_PROGRESS to a retry. Errors retrying cannot
// fix end the member: Join returns them, or, once joined, the member
// reports its partitions lost, stops, and Err returns them —
// kerr.ErrUnsupported (a coordinator without ConsumerGroupHeartbeat v1:
// Kafka before 4.0, checked with ApiVersions; or one whose
// group.coordinator.rebalance.protocols leaves "consumer" out),
// kerr.InvalidRegularExpression, kerr.UnsupportedAssignor,
// kerr.GroupAuthorizationFailed, kerr.GroupMaxSizeReached,
// kerr.GroupIDNotFound (the group is of another kind, or a classic group
// the broker may not convert), kerr.InvalidRequest, a closed cluster.
//
// # Migration from the classic protocol
//
// A group's members may switch protocols by restarting with the other one.
// Kafka converts an empty classic group into a consumer group when a
// consumer-protocol member joins it, whatever the broker's
// group.consumer.migration.policy; with the policy "upgrade" or
// "bidirectional" (Kafka 4's default) it also converts a group whose
// classic members are still there, which then keep working through the
// classic requests (JoinGroup, SyncGroup) that the coordinator answers from
// the consumer group's assignment. Committed offsets stay with the group
// either way.
//
// # Actors
//
// A Member owns two goroutines, both stopped by Close: the membership loop
// (Handler calls, one at a time; a Handler that blocks delays the member's
// reconciliation, not its heartbeats) and the heartbeater. It has a
// connection of its own to the coordinator (a lane, see
// cluster.Broker.RequestOn), so that its heartbeats never wait behind
// another member's requests.
package consumer
