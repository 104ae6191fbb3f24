// Package share is the pure-Go engine's fetcher for share groups (KIP-932,
// queues): it reads, for one member of a share group, the partitions the
// group assigns to it, through share sessions with their leaders, and
// sends the member's acknowledgements. The root (kafka.ShareConsumer) owns
// the membership (balance/share) and the records it handed out; this
// package moves records and acknowledgements between brokers and Poll.
//
// # Share sessions
//
// A member reads a partition from its leader with ShareFetch. The leader
// acquires records for the member (no other member gets them) for the
// group's lock duration and says which: the answer holds record batches
// and the ranges of offsets acquired, each with its delivery count (how
// often the records were handed to some member). Records outside those
// ranges belong to other members and are skipped; acquired offsets that
// hold no record (transaction markers, compacted records) are acknowledged
// here as gaps, and acquired offsets the answer does not hold (it was cut
// short, a batch did not decode) are released, so that they come again.
//
// The leader keeps a share session per member: the partitions to fetch
// and an epoch. The first request opens it (epoch 0); each answered
// request moves the epoch on by one; later requests only name the
// partitions that join the session, and list those that leave it
// (forgotten), since every ShareFetch fetches every partition of the
// session. A request at epoch -1 closes the session, and the leader
// releases what the member still holds. Because of the epoch, a source
// has one request in flight at a time.
//
// # Actors
//
//   - a source per broker that leads an assigned partition (source.go):
//     one goroutine that owns the member's session with that broker. It
//     sends a ShareFetch whenever Poll has taken what it fetched before
//     (so at most one answer per broker waits for Poll: acquired records
//     are locked, and records that wait here are not being processed),
//     carrying the acknowledgements queued for partitions of the session;
//     acknowledgements it cannot carry (their partition left the session,
//     or nothing is to be fetched) go in a ShareAcknowledge. Sources live
//     until Close, so that acknowledgements of records acquired from a
//     broker can still reach it after the partition was revoked;
//   - a router (fetcher.go): one goroutine that wakes at every metadata
//     update and moves partitions to the source of their current leader.
//     A leader move ends the acquisitions of the old leader: their
//     acknowledgements fail, and the records are delivered again.
//
// Acknowledge queues acknowledgements with the source whose session
// acquired their records; each one's outcome is reported exactly once to
// the Acked callback, from the source's goroutine: accepted, refused by
// the broker (the lock had expired: INVALID_RECORD_STATE), or failed (a
// lost connection or session: the records come back to the group). Flush
// waits for the outcomes of what was queued before it.
//
// # Sessions end
//
// The broker ends a share session when its connection closes, releasing
// what the member acquired in it, and may forget one (an answer saying the
// session is unknown, or its epoch wrong). Either way the records acquired
// in it are no longer the member's: the broker may have delivered them to
// someone else already. So each session has a token (ShareFetch.Session),
// which the acknowledgements of its records carry back (ShareAck.Session):
// a source that finds its connection changed, or its session refused,
// opens a new session under a new token, drops the fetches of the old one
// that Poll has not taken, and fails the acknowledgements of the old one
// unsent. Sending them would be worse than useless: the member id is the
// same, so the broker would take them for the records' new delivery.
//
// # Errors
//
// Partition errors that mean "ask someone else" (NOT_LEADER_OR_FOLLOWER,
// ...) lead to a metadata refresh and a backoff; the router moves the
// partition.
// Other errors, which retrying does not fix (an authorization failure),
// are returned from Poll as a ShareFetch with Err.
//
// # Close
//
// Close releases the records fetched and not polled, then each source
// sends its pending acknowledgements at epoch -1, which closes its
// session, and stops. Requests use a lane of their own,
// "share-fetch-<random id>", closed on every broker at the end.
package share
