package testinstance_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// crashEnv makes the test binary act as the crashing child of
// TestCrashCleanup instead of running tests.
const crashEnv = "GOKAFKA_TESTINSTANCE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		crashChild()
	}
	// This package tests the cluster itself, so it always starts one, even
	// when BROKERS names an external cluster for the other packages.
	os.Unsetenv(testinstance.EnvBrokers)
	os.Unsetenv(testinstance.EnvZooKeeper)
	testinstance.Main(m, testinstance.Config{Brokers: 3})
}

func brokerIDs(m *kmsg.MetadataResponse) []int32 {
	var ids []int32
	for _, b := range m.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids
}

// expectBrokers polls addr until its metadata lists exactly ids.
func expectBrokers(t *testing.T, addr string, ids ...int32) {
	t.Helper()
	testhelp.Eventually(t, 30*time.Second, fmt.Sprintf("%s to list brokers %v", addr, ids), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m, err := testinstance.Metadata(ctx, addr)
		if err != nil {
			return err
		}
		if got := brokerIDs(m); !slices.Equal(got, ids) {
			return fmt.Errorf("lists %v", got)
		}
		return nil
	})
}

func TestBrokers(t *testing.T) {
	c := testinstance.Shared()
	if c.NumBrokers() != 3 || len(c.Brokers()) != 3 {
		t.Fatalf("NumBrokers %d, Brokers %v; want 3", c.NumBrokers(), c.Brokers())
	}
	if want := strings.Join(c.Brokers(), ","); c.BootstrapServers() != want {
		t.Fatalf("BootstrapServers %q, want %q", c.BootstrapServers(), want)
	}
	if ids := c.NodeIDs(); !slices.Equal(ids, []int32{1, 2, 3}) {
		t.Fatalf("NodeIDs %v", ids)
	}
	if !strings.HasPrefix(c.ZooKeeper(), "127.0.0.1:") {
		t.Fatalf("ZooKeeper %q", c.ZooKeeper())
	}
	for _, addr := range c.Brokers() {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("broker address %q", addr)
		}
		m, err := testinstance.Metadata(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := brokerIDs(m); !slices.Equal(got, []int32{1, 2, 3}) {
			t.Fatalf("%s lists brokers %v", addr, got)
		}
		if m.ControllerID < 0 {
			t.Fatalf("%s: no controller", addr)
		}
	}
	if _, err := os.Stat(c.LogFile(0)); err != nil {
		t.Fatalf("log file: %v", err)
	}
}

func TestCreateTopic(t *testing.T) {
	c := testinstance.Shared()
	ctx := t.Context()
	const topic = "testinstance-create"
	if err := c.CreateTopic(ctx, topic, 4, 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	// CreateTopic waited, so every broker already knows all partitions.
	for _, addr := range c.Brokers() {
		m, err := testinstance.Metadata(ctx, addr, topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Topics) != 1 || len(m.Topics[0].Partitions) != 4 {
			t.Fatalf("%s: metadata %+v", addr, m.Topics)
		}
		for _, p := range m.Topics[0].Partitions {
			if p.Leader < 1 || len(p.Replicas) != 3 {
				t.Fatalf("%s: partition %d leader %d replicas %v", addr, p.Partition, p.Leader, p.Replicas)
			}
		}
	}
	err := c.CreateTopic(ctx, topic, 1, 1, nil)
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second CreateTopic: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if err := c.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(ctx, "testinstance-defaults", -1, -1, nil); err != nil {
		t.Fatalf("CreateTopic with broker defaults: %v", err)
	}
}

func TestStopStartBroker(t *testing.T) {
	c := testinstance.Shared()
	ctx := t.Context()
	addr := c.Broker(2)

	if err := c.StopBroker(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("stopped broker %s still accepts connections", addr)
	}
	expectBrokers(t, c.Broker(0), 1, 2)
	// The remaining two still form a quorum and serve topics.
	if err := c.CreateTopic(ctx, "testinstance-two-brokers", 2, 2, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.StartBroker(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Brokers() {
		expectBrokers(t, a, 1, 2, 3)
	}

	// A crash: the others notice once the broker's session times out.
	if err := c.KillBroker(0); err != nil {
		t.Fatal(err)
	}
	expectBrokers(t, c.Broker(1), 2, 3)
	if err := c.StartBroker(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Brokers() {
		expectBrokers(t, a, 1, 2, 3)
	}
}

func TestRestartOnTakenPort(t *testing.T) {
	c := testinstance.Shared()
	ctx := t.Context()
	if err := c.StopBroker(ctx, 1); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", c.Broker(1))
	if err != nil {
		t.Fatalf("taking the stopped broker's port: %v", err)
	}
	err = c.StartBroker(ctx, 1)
	l.Close()
	if !errors.Is(err, testinstance.ErrPortInUse) {
		t.Fatalf("StartBroker on a taken port: %v, want ErrPortInUse", err)
	}
	if err := c.StartBroker(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestZooKeeperStopStart(t *testing.T) {
	c := testinstance.Shared()
	ctx := t.Context()
	srvr := func() (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return testinstance.FourLetterWord(cctx, c.ZooKeeper(), "srvr")
	}
	out, err := srvr()
	if err != nil || !strings.Contains(out, "Mode: standalone") {
		t.Fatalf("srvr: %q, %v", out, err)
	}
	if err := c.StopZooKeeper(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := srvr(); err == nil {
		t.Fatal("srvr answered with ZooKeeper stopped")
	}
	if err := c.StartZooKeeper(ctx); err != nil {
		t.Fatal(err)
	}
	out, err = srvr()
	if err != nil || !strings.Contains(out, "Mode: standalone") {
		t.Fatalf("srvr after restart: %q, %v", out, err)
	}
}

func TestExternalCluster(t *testing.T) {
	s := testinstance.Shared()
	t.Setenv(testinstance.EnvBrokers, s.BootstrapServers())
	t.Setenv(testinstance.EnvZooKeeper, s.ZooKeeper())
	c, ok := testinstance.FromEnv()
	if !ok || !c.External() {
		t.Fatal("FromEnv found no external cluster")
	}
	ctx := t.Context()
	if c.BootstrapServers() != s.BootstrapServers() || c.ZooKeeper() != s.ZooKeeper() {
		t.Fatalf("external %q %q", c.BootstrapServers(), c.ZooKeeper())
	}
	if ids := c.NodeIDs(); !slices.Equal(ids, []int32{1, 2, 3}) {
		t.Fatalf("external NodeIDs %v", ids)
	}
	for name, err := range map[string]error{
		"StopBroker":     c.StopBroker(ctx, 0),
		"KillBroker":     c.KillBroker(0),
		"StartBroker":    c.StartBroker(ctx, 0),
		"StopZooKeeper":  c.StopZooKeeper(ctx),
		"StartZooKeeper": c.StartZooKeeper(ctx),
	} {
		if !errors.Is(err, testinstance.ErrExternalCluster) {
			t.Errorf("%s on an external cluster: %v", name, err)
		}
	}
	if err := c.CreateTopic(ctx, "testinstance-external", 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the handle left the real cluster alone.
	if _, err := testinstance.Metadata(ctx, s.Broker(0)); err != nil {
		t.Fatal(err)
	}
}

// processGone reports whether pid no longer runs (absent, or a zombie
// waiting for init to reap it).
func processGone(pid int) bool {
	if !testinstance.ProcessAlive(pid) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func TestCloseLeavesNothing(t *testing.T) {
	ctx := t.Context()
	c, err := testinstance.Start(ctx, testinstance.Config{Brokers: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir, pids := c.Dir(), testinstance.PIDs(c)
	if len(pids) != 2 {
		t.Fatalf("running pids %v, want broker and ZooKeeper", pids)
	}
	if err := c.CreateTopic(ctx, "one", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("process %d still runs after Close", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s after Close: %v", dir, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.StartBroker(ctx, 0); !errors.Is(err, testinstance.ErrClosed) {
		t.Errorf("StartBroker after Close: %v, want ErrClosed", err)
	}
}

// crashChild is the child of TestCrashCleanup: it starts a cluster, reports
// it, and panics without closing it.
func crashChild() {
	c, err := testinstance.Start(context.Background(), testinstance.Config{Brokers: 1, NoZooKeeper: true})
	if err != nil {
		fmt.Println("START FAILED", err)
		os.Exit(1)
	}
	fmt.Printf("DIR %s\n", c.Dir())
	for _, pid := range testinstance.PIDs(c) {
		fmt.Printf("PID %d\n", pid)
	}
	panic("crashing on purpose without Close")
}

func TestCrashCleanup(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"=1")
	out, _ := cmd.CombinedOutput() // exits non-zero: it panics
	var dir string
	var pids []int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			dir = d
		}
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ := strconv.Atoi(p)
			pids = append(pids, pid)
		}
	}
	if dir == "" || len(pids) == 0 || !strings.Contains(string(out), "crashing on purpose") {
		t.Fatalf("child did not start a cluster and crash:\n%s", out)
	}
	testhelp.Eventually(t, 20*time.Second, "the crashed child's JVMs to die", func() error {
		for _, pid := range pids {
			if !processGone(pid) {
				return fmt.Errorf("pid %d alive", pid)
			}
		}
		return nil
	})
	testhelp.Eventually(t, 20*time.Second, "the reaper to remove "+dir, func() error {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("stat: %v", err)
		}
		return nil
	})
}

func TestErrors(t *testing.T) {
	ctx := t.Context()
	cache := t.TempDir()

	_, err := testinstance.Start(ctx, testinstance.Config{Java: "/nonexistent/java", CacheDir: cache})
	if !errors.Is(err, testinstance.ErrJavaMissing) {
		t.Errorf("missing java: %v", err)
	}
	err = testinstance.Prefetch(ctx, testinstance.Config{Maven: "/nonexistent/mvn", CacheDir: cache})
	if !errors.Is(err, testinstance.ErrMavenMissing) {
		t.Errorf("missing mvn: %v", err)
	}
	err = testinstance.Prefetch(ctx, testinstance.Config{KafkaVersion: "0.0.404", NoZooKeeper: true, CacheDir: cache})
	var me *testinstance.MavenError
	if !errors.Is(err, testinstance.ErrMavenFailed) || !errors.As(err, &me) || me.Output == "" {
		t.Errorf("unknown Kafka version: %v", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("a failed resolution left %v in the cache", entries)
	}

	// A broker that cannot start: the error carries its log.
	_, err = testinstance.Start(ctx, testinstance.Config{
		Brokers: 1, NoZooKeeper: true,
		BrokerProperties: map[string]string{"num.io.threads": "not-a-number"},
	})
	var pe *testinstance.ProcessExitError
	if !errors.Is(err, testinstance.ErrProcessExited) || !errors.As(err, &pe) || !strings.Contains(pe.LogTail, "num.io.threads") {
		t.Errorf("broken broker config: %v", err)
	}
}

// TestGCPauses makes broker 1's JVM collect in full (jcmd GC.run, from the JDK the
// cluster runs on) and finds the pause in GCPauses, within the interval
// asked and not outside it.
func TestGCPauses(t *testing.T) {
	c := testinstance.Shared()
	pid := testinstance.PIDs(c)[0]
	jcmd := testinstance.JDKTool(c, "jcmd")
	from := time.Now()
	if out, err := exec.Command(jcmd, strconv.Itoa(pid), "GC.run").CombinedOutput(); err != nil {
		t.Fatalf("%s %d GC.run: %v: %s", jcmd, pid, err, out)
	}
	var found testinstance.GCPause
	testhelp.Eventually(t, 30*time.Second, "the forced collection in GCPauses", func() error {
		ps, err := c.GCPauses(from, time.Now())
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Broker == 1 && strings.HasPrefix(p.Kind, "Pause Full") {
				found = p
				return nil
			}
		}
		return fmt.Errorf("pauses since %s: %+v", from.Format(time.StampMilli), ps)
	})
	if found.Took <= 0 || found.End.Before(from.Add(-time.Millisecond)) || found.End.After(time.Now()) {
		t.Fatalf("pause %+v: not within [%s, now]", found, from.Format(time.StampMilli))
	}
	// The same pause is not in an interval that ended before it began.
	early, err := c.GCPauses(from.Add(-time.Hour), found.Start().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range early {
		if p.Broker == found.Broker && p.End.Equal(found.End) {
			t.Fatalf("pause %+v listed in an interval that ended a second before it began", p)
		}
	}
	if _, err := testinstance.Connect([]string{"127.0.0.1:1"}, "").GCPauses(from, time.Now()); !errors.Is(err, testinstance.ErrExternalCluster) {
		t.Fatalf("GCPauses on an external cluster: %v, want ErrExternalCluster", err)
	}
}
