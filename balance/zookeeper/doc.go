// Package zookeeper runs consumer-group membership through ZooKeeper, the
// way Kafka's old high-level consumer and PyKafka's balanced consumer do:
// the members of a group agree, without any broker's help, on which of them
// reads which partitions of the topics they subscribe to.
//
//	m, err := zookeeper.Join(ctx, client, zookeeper.Config{
//		Servers: []string{"zk1:2181"}, Group: "billing",
//		Subscription: balance.Subscription{Topics: []string{"orders", "refunds"}},
//	}, handler)
//	...
//	defer m.Close(ctx)
//
// A Subscription lists topics, or gives a pattern
// (regexp.MustCompile(`events-.*`)) that a topic matches when its whole
// name does, or both. Members of one group may subscribe differently: each
// topic's partitions are shared by the members that read it.
//
// Kafka itself (4.x, KRaft) no longer uses ZooKeeper; here ZooKeeper only
// coordinates the consumers, and the topics and their partition counts come
// from Kafka's metadata.
//
// # Layout
//
// The nodes are those of Kafka's old consumer, so tools that read them see
// a familiar group:
//
//	/consumers/<group>/ids/<consumer id>            ephemeral, data: the member's subscription (below)
//	/consumers/<group>/owners/<topic>/<partition>   ephemeral, data: the owner's consumer id
//
// An ids node holds the old consumer's registration. A list of topics is
//
//	{"version":1,"subscription":{"orders":1,"refunds":1},"pattern":"static","timestamp":"<unix ms>"}
//
// and a pattern is the old consumer's wildcard form, the expression as the
// only key: {"version":1,"subscription":{"events-.*":1},"pattern":"white_list",...}.
// The format cannot hold both, so a pattern with topics is written as one
// expression that matches either: (?:events-.*)|orders. Members read each
// other's registrations in these forms, the old consumer's "black_list"
// (every topic that does not match), and PyKafka's (the bare topic name).
// A registration that cannot be read (an expression in Java syntax that Go's
// regexp lacks, say) is logged, and its member is taken to read what this
// member reads.
//
// Parent nodes are created persistent when missing. Offsets are not kept in
// ZooKeeper: commits go to Kafka (package offsets) with the zero Generation.
//
// # Rebalancing
//
// Every member computes the same assignment from the same inputs: the ids
// of the members, sorted; what each reads, its patterns evaluated against
// this member's metadata (Kafka's internal topics never match); and each
// topic's partitions 0..n-1, sorted by number. balance.AssignTopics does
// the rest: Range topic by topic among the topic's readers (with 12
// partitions and 3 members, the first gets 0-3, not 0,1,10,11), or
// RoundRobin over the partitions of all topics in (topic, number) order.
//
// A member rebalances when the children of ids change (a one-shot watch,
// armed again by each rebalance), when its ZooKeeper session was replaced,
// and when the client's metadata shows a change in the group's topics: a
// partition count, a topic deleted (its partitions are revoked from their
// owners, who commit what they can), or with a pattern a new topic that
// matches. The member asks for that metadata every PartitionCheckInterval,
// and looks at every refresh the client makes anyway; so a topic created
// later is read within that interval. While any member of the group has a
// pattern, the member holds the client's cluster.TrackAll, so the refreshes
// cover every topic; it tracks the topics that members list.
//
// A rebalance revokes only what moves: the Handler's Revoked gets the
// owned partitions that the new assignment gives to others (it commits
// their offsets there), then their owner nodes are deleted, then the
// member creates the owner nodes of its new partitions and the Handler's
// Assigned gets them. Partitions that stay keep being consumed. This is
// safe because ownership is the owner node, which only one session can
// hold: a member never starts on a partition before its previous owner
// deleted the node, which it does only after Revoked returned. PyKafka
// revokes everything at every rebalance; nothing requires it.
//
// A partition whose owner node still belongs to someone else (a member
// slower to rebalance, or a crashed one whose session has not run out) is
// tried again RebalanceMaxRetries times, RebalanceBackoff apart, or at once
// when a watch on the node says it went (so a hand-over takes milliseconds,
// not a backoff); the member list and the metadata are read again between
// tries, and if either changed the rebalance starts over. Partitions that
// still cannot be claimed are logged (ErrRebalanceFailed) and the member
// rebalances again after a growing, jittered delay; a claim never waits
// silently and never takes a node that another session holds.
//
// # Sessions
//
// go-zookeeper drops state events when its 6-event channel is full, and
// does not recreate ephemeral nodes in a new session. So the member follows
// the session state through the connection's event callback, and:
//
//   - when the connection is down and the session could expire soon (a
//     sixth of the timeout before the earliest moment ZooKeeper may expire
//     it, counted from the last answer read from the server), it calls the
//     Handler's Lost with everything it owns: it cannot know whether the
//     session will outlive the outage, and others may take the partitions
//     once it does not;
//   - when the same session comes back (a short network cut, or a
//     ZooKeeper restart: ZooKeeper keeps sessions in its log and gives them
//     a full timeout to reconnect after it starts), it re-arms its watch,
//     checks its owner nodes (under every topic of the group) and
//     rebalances, taking back the partitions whose nodes survived;
//   - when the session expired, it calls Lost for whatever it still had,
//     closes that connection (so that requests queued in it can never run
//     in the next session), opens a new session, registers again and
//     rebalances.
//
// Every ZooKeeper call has a deadline (a third of the session timeout, at
// least a second); go-zookeeper's calls take no context. A call given up on
// may still pass; the member then reads its owner nodes back from
// ZooKeeper before the next rebalance, so that a node it created without
// knowing is either used or deleted.
//
// # Actors
//
// Join starts one goroutine per Member. It owns the ZooKeeper connection
// (go-zookeeper runs its own goroutines under it), all the membership state,
// and every Handler call, which therefore come one at a time; a slow
// Handler only delays the rebalance, since go-zookeeper's goroutines keep
// the session alive. The Handler's context is cancelled only when Close's
// context ends before Close is done; a Handler must not call Close itself
// (Close waits for the goroutine that is calling it). The member also
// starts a short-lived goroutine per ZooKeeper call to put a deadline on
// it. Close stops them all and waits.
//
// Everything that may pass is retried for as long as the member lives:
// ZooKeeper unreachable, sessions expiring, partitions held by slow
// members, Kafka's metadata failing. The member stops by itself only when
// the client's cluster closes under it: its partitions are then lost (no
// commit can go through a closed client), it leaves the group, Done is
// closed and Err returns kerr.ErrClosed.
package zookeeper
