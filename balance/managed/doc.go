// Package managed is Kafka-managed consumer-group membership: the classic
// group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) that the Java
// client and librdkafka speak, so gokafka members, Java consumers and
// librdkafka consumers (kcat -G, confluent-kafka-*) can share one group.
// The root package's BalancedConsumer uses it when Managed is set; it is
// the balance.Member contract over Kafka instead of ZooKeeper.
//
//	m, err := managed.Join(ctx, client, managed.Config{
//		Group:        "billing",
//		Subscription: balance.Subscription{Topics: []string{"orders", "refunds"}},
//	}, handler)
//	defer m.Close(ctx)
//	gen := m.Generation() // what every commit of this member carries
//
// # Subscriptions
//
// A member reads a list of topics, the topics matching a pattern, or both
// (balance.Subscription). Its JoinGroup names the topics it reads, as the
// Java client's does: the listed ones (whether or not they exist yet) and
// the topics of the cluster's metadata whose whole name matches the
// pattern ("orders-.*" matches "orders-eu", not "old-orders-eu"), Kafka's
// internal topics (__consumer_offsets, __transaction_state) excepted.
// Members of one group may subscribe to different topics; each topic is
// shared among the members that read it.
//
// With a pattern, the member keeps the metadata of every topic in the
// cluster fresh (cluster.TrackAll, held until it stops), so it sees topics
// created and deleted within cluster.Config.MetadataMaxAge.
//
// # How a group rebalances
//
// The group's coordinator (a broker, found with FindCoordinator through
// offsets.Group) runs the group in generations. Every member sends
// JoinGroup with its subscription — the standard consumer protocol
// encoding, kmsg.ConsumerMemberMetadata: protocol type "consumer", protocol
// name "range", "roundrobin" or "cooperative-sticky". When all have
// rejoined (or RebalanceTimeout passes), the coordinator opens a new
// generation and answers each JoinGroup; the leader's answer carries
// everyone's subscriptions. The leader computes the assignment and sends it
// in its SyncGroup (kmsg.ConsumerMemberAssignment per member); every
// member's SyncGroup answer carries its own share. A member then heartbeats
// every HeartbeatInterval; a heartbeat answered REBALANCE_IN_PROGRESS means
// someone joined or left, and everyone rejoins. A member that sends nothing
// for SessionTimeout is dropped and its partitions go to the others.
//
// The leader assigns like the Java client, members ordered by instance id
// (static members first), then member id: Range topic by topic and
// RoundRobin across all the topics through balance.AssignTopics, the same
// code ZooKeeper groups use; CooperativeSticky balances each member's
// total across topics (with the same topics for all, totals differ by at
// most one), keeps partitions with their previous owners, and moves only
// what the balance requires.
//
// # Eager and cooperative rebalancing
//
// With Range and RoundRobin (eager), a member revokes everything before it
// rejoins — the Handler's Revoked gets all its partitions and commits them
// under the generation that is ending, which the coordinator still accepts
// while it waits for the members — then gets its new share from Assigned.
//
// With CooperativeSticky (KIP-429), members rejoin keeping their partitions
// and report them (OwnedPartitions) in JoinGroup. A partition that must
// change owner is first left out of everyone's assignment: its old owner
// sees it missing, revokes it (Revoked) and rejoins at once, and the
// follow-up rebalance gives it to its new owner. Partitions that stay are
// never revoked, and consumption of them never stops. Every member of a
// group must use the same strategy.
//
// # Actors
//
// A Member owns two goroutines, both stopped by Close:
//
//   - the membership loop rebalances and calls the Handler, one call at a
//     time; a Handler that blocks delays the member's next rebalance, not
//     its session;
//   - the heartbeater keeps the current generation alive and reports what
//     the coordinator says (rebalance, unknown member, fenced) to the
//     loop, which acts on it when it is ready. When nothing gets through
//     for SessionTimeout, the partitions are reported lost (Handler.Lost,
//     no commit: another member may already have them) and the member
//     rejoins.
//
// Each member has two connections of its own to the coordinator (lanes,
// see cluster.Broker.RequestOn): one for JoinGroup and SyncGroup, which the
// coordinator holds for the length of a rebalance, one for heartbeats and
// LeaveGroup, so that heartbeats never wait behind a JoinGroup. The
// cluster's shared "group" lane is not used: two members of one group in
// one process would deadlock on it, the second one's JoinGroup queued
// behind the first one's, which waits for the second.
//
// # Commits and generations
//
// Generation returns the generation id and member id the coordinator
// accepts in OffsetCommit (see offsets.Generation). It changes atomically
// when a new assignment is applied, before Assigned is called. A commit
// with an older generation fails with kerr.IllegalGeneration, one from a
// member the coordinator dropped with kerr.UnknownMemberID: a member that
// lost its partitions cannot overwrite the offsets of their new owner.
//
// # Static membership
//
// With InstanceID (KIP-345) the coordinator knows the member by that id
// across restarts: a member that restarts within SessionTimeout gets its
// partitions back without a rebalance, so the other members are not
// disturbed. Close therefore does not send LeaveGroup for a static member;
// the group rebalances when its session times out. Two live members with
// the same instance id fence each other: the older one stops with
// kerr.FencedInstanceID (see Member.Err).
//
// # Errors and retries
//
// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, timeouts and lost connections
// lead to a new coordinator lookup and a retry with backoff;
// COORDINATOR_LOAD_IN_PROGRESS to a retry. MEMBER_ID_REQUIRED (JoinGroup
// v4+) is answered by rejoining with the id given, REBALANCE_IN_PROGRESS by
// rejoining; UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION mean the partitions
// were lost, and the member rejoins (as a new member for the former).
// Errors retrying cannot fix end the member (FENCED_INSTANCE_ID,
// INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
// GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED, a closed cluster):
// Join returns them, or, once joined, the member reports its partitions
// lost, stops, and Err returns them.
//
// # What makes a member rejoin
//
// Besides the coordinator's news (a member joined or left), the cluster's
// metadata, refreshed every cluster.Config.MetadataMaxAge, makes a member
// rejoin so that the group's assignment follows the topics, as in the Java
// client:
//
//   - with a pattern, the set of matching topics changed: a matching topic
//     was created (it is assigned once its partitions have leaders) or
//     deleted (its partitions leave the assignment);
//   - a topic the member reads — or, for the leader, that any member reads —
//     changed its partition count, was created or was deleted.
//
// With CooperativeSticky, a member revokes the partitions of topics it no
// longer reads before it rejoins, and the leader gives nobody a partition
// that a member still claims but may not keep; the next rebalance does.
package managed
