package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The Java client is measured through its own perf tools, ProducerPerformance
// and ConsumerPerformance from org.apache.kafka:kafka-tools, fetched with
// Maven next to testinstance's jars. It is the broker-bound reference: the
// client the brokers were written with.
const kafkaToolsVersion = "4.3.1"

var javaClient = clientDef{Name: "java", Java: true, What: "org.apache.kafka:kafka-tools " + kafkaToolsVersion + " ProducerPerformance / ConsumerPerformance (the Java client)"}

// javaTools returns kafka-tools' classpath if java and mvn are on PATH.
func javaTools(ctx context.Context) (string, error) {
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", err
		}
	}
	return resolveKafkaTools(ctx)
}

// resolveKafkaTools returns the classpath of kafka-tools, resolving it into
// the gokafka cache with Maven the first time.
func resolveKafkaTools(ctx context.Context) (string, error) {
	cache := os.Getenv("GOKAFKA_CACHE")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(d, "gokafka")
	}
	dir := filepath.Join(cache, "bench-kafka-tools-"+kafkaToolsVersion)
	lib := filepath.Join(dir, "lib")
	marker := filepath.Join(dir, "resolved.txt")
	if _, err := os.Stat(marker); err == nil {
		return filepath.Join(lib, "*"), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	pom := `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gokafka.bench</groupId><artifactId>kafka-tools-deps</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>` + kafkaToolsVersion + `</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), []byte(pom), 0o644); err != nil {
		return "", err
	}
	logf("resolving kafka-tools %s with Maven into %s", kafkaToolsVersion, dir)
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "-U", "-Dstyle.color=never",
		"org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
		"-DoutputDirectory="+lib, "-DincludeScope=runtime")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mvn: %w: %s", err, tail(string(out)))
	}
	if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", err
	}
	return filepath.Join(lib, "*"), nil
}

// runJava runs one perf-tool process. Its figures come from the tool's own
// report (records/sec; for consuming the fetch time, which leaves out the
// tool's consumer-group join); CPU and RSS from the process's rusage, so
// they include the JVM's start-up and JIT compilation.
func (b *bench) runJava(ctx context.Context, classpath string, sc Scenario, topic string, expected []int64) Run {
	r := Run{Client: javaClient.Name, Scenario: sc.Name()}
	brokers := strings.Join(b.cluster.Brokers(), ",")
	var args []string
	if sc.Mode == "produce" {
		args = []string{"-cp", classpath, "org.apache.kafka.tools.ProducerPerformance",
			"--bootstrap-server", brokers, "--topic", topic,
			"--num-records", strconv.FormatInt(sc.Count, 10), "--record-size", strconv.Itoa(sc.Size),
			"--throughput", "-1", "--command-property",
			"acks=" + sc.Acks,
			"linger.ms=" + strconv.Itoa(int(settings.Linger/time.Millisecond)),
			"batch.size=" + strconv.Itoa(settings.BatchBytes),
			"compression.type=" + sc.Compression,
			"enable.idempotence=" + strconv.FormatBool(sc.Acks == "all"),
			"client.id=bench",
		}
	} else {
		args = []string{"-cp", classpath, "org.apache.kafka.tools.ConsumerPerformance",
			"--bootstrap-server", brokers, "--topic", topic,
			"--num-records", strconv.FormatInt(sc.Count, 10), "--timeout", strconv.Itoa(int(runTimeout / time.Millisecond)),
			"--group", fmt.Sprintf("bench-java-%x", rand.Uint64()),
			"--command-property", "fetch.max.wait.ms=" + strconv.Itoa(int(settings.FetchMaxWait/time.Millisecond)),
			"--command-property", "auto.offset.reset=earliest",
			"--command-property", "client.id=bench",
		}
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", append([]string{"-Xmx1g"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := b.runProcess(cmd, &r)
	r.CPUSect = -1
	if err != nil {
		r.Err = fmt.Sprintf("%v: %s", err, tail(stderr.String()+stdout.String()))
		return r
	}
	out := lastLine(stdout.String())
	if sc.Mode == "produce" {
		// "N records sent, R records/sec (M MB/sec), ..."
		f := strings.Fields(out)
		if len(f) < 4 || f[1] != "records" || f[2] != "sent," {
			r.Err = "unexpected ProducerPerformance output: " + tail(stdout.String())
			return r
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		rate, _ := strconv.ParseFloat(f[3], 64)
		if n != sc.Count || rate <= 0 {
			r.Err = fmt.Sprintf("ProducerPerformance sent %d records at %v/s, want %d: %s", n, rate, sc.Count, tail(stderr.String()))
			return r
		}
		r.Messages, r.Bytes = n, n*int64(sc.Size)
		r.Elapsed = time.Duration(float64(n) / rate * float64(time.Second))
		return r
	}
	// start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, ...
	f := strings.Split(out, ",")
	if len(f) < 8 {
		r.Err = "unexpected ConsumerPerformance output: " + tail(stdout.String())
		return r
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(f[4]), 10, 64)
	fetchMs, _ := strconv.ParseFloat(strings.TrimSpace(f[7]), 64)
	var want int64
	for _, e := range expected {
		want += e
	}
	if n != sc.Count || n != want || fetchMs <= 0 {
		r.Err = fmt.Sprintf("ConsumerPerformance read %d records in %v ms, want %d: %s", n, fetchMs, sc.Count, tail(stderr.String()))
		return r
	}
	r.Messages, r.Bytes = n, n*int64(sc.Size)
	r.Elapsed = time.Duration(fetchMs * float64(time.Millisecond))
	return r
}
