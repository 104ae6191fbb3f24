// Package zookeeper runs consumer-group membership through ZooKeeper, the
// way Kafka's old high-level consumer and PyKafka's balanced consumer do:
// the members of a group agree, without any broker's help, on which of them
// reads which partitions of one topic.
//
//	m, err := zookeeper.Join(ctx, cl, zookeeper.Config{
//		Servers: []string{"zk1:2181"}, Group: "billing", Topic: "events",
//	}, handler)
//	...
//	defer m.Close(ctx)
//
// Kafka itself (4.x, KRaft) no longer uses ZooKeeper; here ZooKeeper only
// coordinates the consumers, and the topic's partition count comes from
// Kafka's metadata.
//
// # Layout
//
// The nodes are those of Kafka's old consumer, so tools that read them
// (and PyKafka members, whose ids nodes hold the bare topic name) see a
// familiar group:
//
//	/consumers/<group>/ids/<consumer id>            ephemeral, data: {"version":1,"subscription":{"<topic>":1},"pattern":"static","timestamp":"<ms>"}
//	/consumers/<group>/owners/<topic>/<partition>   ephemeral, data: the owner's consumer id
//
// Parent nodes are created persistent when missing. Offsets are not kept in
// ZooKeeper: commits go to Kafka (package offsets) with the zero Generation.
//
// # Rebalancing
//
// Every member computes the same assignment from the same inputs: the ids
// of the members subscribed to the topic, sorted, and the partitions
// 0..n-1, sorted by number (balance.AssignRange or balance.AssignRoundRobin;
// with 12 partitions and 3 members, range gives the first 0-3, not
// 0,1,10,11). A member rebalances when the children of ids change (a
// one-shot watch, armed again by each rebalance), when the partition count
// in the client's metadata changes (the member asks for the topic's
// metadata every PartitionCheckInterval, and looks at every refresh the
// client makes anyway), and when its ZooKeeper session was replaced.
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
// not a backoff); the member list is read again between tries, and if it
// changed the rebalance starts over with it. Partitions that still cannot be claimed are logged
// (ErrRebalanceFailed) and the member rebalances again after a growing,
// jittered delay; a claim never waits silently and never takes a node that
// another session holds.
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
//     checks its owner nodes and rebalances, taking back the partitions
//     whose nodes survived;
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
package zookeeper
