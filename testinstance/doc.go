// Package testinstance runs a real, throwaway Apache Kafka cluster (and a
// ZooKeeper) on the local machine for tests: no Docker, no tarball, no manual
// step. It needs only a JDK 17+ (`java`) and Maven (`mvn`) that reaches Maven
// Central.
//
// # Using it in a package's tests
//
// One cluster is shared by all tests of a package:
//
//	func TestMain(m *testing.M) {
//		testinstance.Main(m, testinstance.Config{Brokers: 3})
//	}
//
//	func TestSomething(t *testing.T) {
//		c := testinstance.Shared()
//		ctx := t.Context()
//		if err := c.CreateTopic(ctx, "orders", 3, 3, nil); err != nil {
//			t.Fatal(err)
//		}
//		client := newClient(c.BootstrapServers()) // "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
//		...
//		c.StopBroker(ctx, 0)  // graceful; KillBroker(0) is a crash
//		c.StartBroker(ctx, 0) // same node id, ports and data; waits until ready
//	}
//
// Give each test its own topic and group names: the cluster outlives every
// test. Main never skips: if the cluster cannot start, the test binary fails
// with the reason (java missing, Maven unreachable, a broker's log tail).
//
// To share one cluster across packages (or run against another cluster), set
// BROKERS="host:port,..." and ZOOKEEPER="host:port": Main then starts nothing
// and Shared returns a handle on that cluster, on which topic operations work
// and node faults return ErrExternalCluster. The kafka-instance command
// starts a cluster and writes those variables to a file:
//
//	go run ./cmd/kafka-instance -brokers 3 -export-hosts /tmp/kafka.env &
//	# wait for /tmp/kafka.env to appear, then:
//	set -a; . /tmp/kafka.env; set +a; go test ./...
//
// Outside TestMain, Start and Close manage a cluster directly.
//
// # Faults
//
// StopBroker, KillBroker (SIGKILL) and StartBroker, and their ZooKeeper
// twins, break the cluster itself; run them on a cluster the test started
// with Start, never on Shared(), whose other tests would suffer too. For
// faults of the network between a client and the brokers (latency,
// connection resets, black holes, one broker unreachable), put package
// faultproxy in between: faultproxy.NewGroup(c.Brokers()...) and
// kafka.WithDialer(group.DialContext). Its package doc shows the two
// together.
//
// The Kafka version is Config.KafkaVersion, else $GOKAFKA_KAFKA_VERSION, else
// 4.3.1; a compatibility run of every package against Kafka 3.9 is
//
//	GOKAFKA_KAFKA_VERSION=3.9.2 go test ./...
//
// # What runs
//
// Start runs Config.Brokers Kafka nodes in KRaft mode, each a combined broker
// and controller, all of them voters of a static quorum
// (controller.quorum.voters), with node ids 1..N. Each node has a PLAINTEXT
// listener for clients and replication and a CONTROLLER listener for the
// quorum, both on 127.0.0.1 on ports the kernel reported free. ZooKeeper runs
// standalone on 127.0.0.1 too; Kafka does not use it (KRaft), it is there for
// client features built on ZooKeeper.
//
// Everything lives in one temporary directory (Cluster.Dir):
//
//	gokafka-cluster-NNN/
//	  kafka-1/server.properties   the node's configuration
//	  kafka-1/data/               log.dirs (and the KRaft metadata log)
//	  kafka-1/kafka.log           stdout+stderr of the storage format and of every run
//	  kafka-1/gc-PID.log          the JVM's garbage collections, one file per run (GCPauses)
//	  zookeeper/zoo.cfg, data/, zookeeper.log
//	  tmp/                        java.io.tmpdir of every JVM (unpacked native libraries)
//
// When a test fails strangely, read the logs there (Config.ProcessLog, or
// kafka-instance -v, streams them as well).
//
// The broker settings favour fast tests on a small machine: no initial
// rebalance delay, 3 partitions for __consumer_offsets and the transaction
// log, internal topics replicated min(3, N) times, few threads, a 16 MiB
// cleaner buffer, broker sessions of 6s (heartbeat 1s) so a killed broker is
// noticed quickly, and group session timeouts down to 1s allowed.
// Auto-creation and deletion of topics are on. Config.BrokerProperties
// overrides any of them. Each broker JVM gets a serial-GC heap of 256 MiB
// growing to 1 GiB (ZooKeeper 32-128 MiB) and the C1 compiler only; three
// brokers and ZooKeeper start in about 10 seconds on two cores.
//
// The serial collector stops a broker for each young collection (about 20
// ms each, every few seconds per broker under load, on these machines), and
// with acks=all every partition the broker replicates waits meanwhile.
// GCPauses reads the pauses from the brokers' GC logs, so that a latency
// measurement can tell them from its client's own delays.
//
// # Share groups
//
// Share groups (KIP-932, Kafka 4.1 and later) are a feature of the cluster,
// share.version, chosen when storage is formatted: Start formats Kafka 4.1
// and newer with share.version=1 (4.2 and later would enable it anyway) and
// sets their broker configs (share.go): heartbeats every second
// (group.share.heartbeat.interval.ms, down to 500ms allowed) so that members
// learn their assignment quickly, 10s sessions (group.share.session.timeout.ms,
// down to 1s allowed) so that a killed member leaves quickly, record locks
// down to 1s allowed (group.share.min.record.lock.duration.ms; the default
// stays Kafka's 30s, and a test sets its group's share.record.lock.duration.ms),
// and the __share_group_state topic with 3 partitions, replicated min(3, N)
// times with min.insync.replicas min(2, N), like __consumer_offsets. Kafka
// 3.9 gets none of this: it has no share groups.
//
// # Readiness
//
// A listening port is not a ready broker. Start returns once every broker
// answers a Metadata request that lists all brokers and a controller, and a
// FindCoordinator request for a group no longer fails with
// COORDINATOR_NOT_AVAILABLE (so __consumer_offsets exists and has leaders);
// ZooKeeper is ready once its `srvr` command reports "Mode: standalone". The
// checks use gokafka's own connection (internal/wire) with kmsg messages.
// StartBroker waits the same way. CreateTopic waits until every running
// broker's metadata shows a leader for each partition.
//
// # Jars
//
// Kafka (org.apache.kafka:kafka_2.13) and ZooKeeper come from Maven Central:
// a throwaway POM lists them, and `mvn dependency:copy-dependencies` copies
// the runtime closure into a lib folder of the cache, one folder per
// artifact and version (kafka_2.13-4.3.1/lib, zookeeper-3.9.5/lib). The POMs
// leave out what only the distribution tarballs carry, so these are added:
// the Log4j 2 binding for SLF4J 1.7 for Kafka (without it brokers log
// nothing), and metrics-core, slf4j-simple and snappy-java for ZooKeeper.
// The cache is $GOKAFKA_CACHE, else os.UserCacheDir()/gokafka (Maven's own
// ~/.m2 is used as usual). A folder counts only once its marker file exists,
// written after mvn succeeded and the main classes were found in the jars,
// so an interrupted download is redone. Prefetch (kafka-instance -prefetch)
// fills the cache without starting anything.
//
// # Cleanup
//
// Close kills every process and removes the directory. The JVMs run in their
// own process groups, so a Ctrl-C in the terminal reaches only the Go
// process, which closes the cluster (Main and kafka-instance handle SIGINT
// and SIGTERM). If the Go process dies without closing (a panicking test, a
// -timeout, SIGKILL), the JVMs die too: on Linux they are started with a
// parent-death signal, and on every Unix a small reaper process (/bin/sh)
// notices the death, kills the JVMs' process groups and removes the
// directory. Start also removes directories left by dead owners.
//
// # Errors
//
// Errors match sentinels with errors.Is: ErrJavaMissing, ErrMavenMissing,
// ErrMavenFailed (*MavenError with mvn's output), ErrPortInUse
// (*PortInUseError, or a node whose log shows a bind failure; Start retries
// with new ports), ErrProcessExited (*ProcessExitError with the tail of the
// node's log), ErrExternalCluster, ErrNoZooKeeper and ErrClosed. Broker error
// codes (e.g. creating a topic that exists) match gokafka's broker error
// values (kafka.ErrTopicAlreadyExists and the like).
//
// # Security listeners
//
// Config.Security adds SASL_PLAINTEXT, SSL and SASL_SSL listeners beside
// PLAINTEXT on every broker, each on its own port; Cluster.Listener(name)
// returns their addresses. SASL users work with PLAIN (JAAS) and
// SCRAM-SHA-256/512 (seeded at storage format time). TLS listeners use PEM
// key stores signed by a CA generated in Go (Cluster.CA, which also issues
// client certificates for ssl.client.auth=required listeners):
//
//	c, err := testinstance.Start(ctx, testinstance.Config{Brokers: 1, Security: &testinstance.SecurityConfig{
//		Users:     []testinstance.User{{Name: "alice", Password: "alice-secret"}},
//		Listeners: []testinstance.Listener{{Name: "SASL", Protocol: testinstance.SASLPlaintext},
//			{Name: "MTLS", Protocol: testinstance.SSL, ClientAuth: true}},
//	}})
//	certPEM, keyPEM, err := c.CA().Issue("client")
//
// Replication and the readiness checks keep using PLAINTEXT.
package testinstance
