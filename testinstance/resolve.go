package testinstance

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Versions of the jars that Kafka's and ZooKeeper's POMs do not carry but
// that the processes need at run time.
const (
	Log4jVersion            = "2.25.5"   // log4j-api, log4j-core, log4j-slf4j-impl (SLF4J 1.x binding)
	KafkaSLF4JVersion       = "1.7.36"   // slf4j-api for Kafka
	ZooKeeperMetricsVersion = "4.1.12.1" // io.dropwizard.metrics:metrics-core (provided scope upstream)
	ZooKeeperSLF4JVersion   = "2.0.13"   // slf4j-simple for ZooKeeper (SLF4J 2)
	ZooKeeperSnappyVersion  = "1.1.10.5" // org.xerial.snappy:snappy-java (provided scope upstream; snapshots need it)

	dependencyPlugin = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
	markerFile       = "resolved.txt"
)

type mavenDep struct{ group, artifact, version string }

// jarSet is one lib folder of the cache: the dependencies to resolve and the
// classes that must be found in the result.
type jarSet struct {
	name    string // cache folder, e.g. "kafka_2.13-4.3.1"
	deps    []mavenDep
	classes []string // e.g. "kafka/Kafka.class"
}

func kafkaJars(version string) jarSet {
	return jarSet{
		name: "kafka_2.13-" + version,
		deps: []mavenDep{
			{"org.apache.kafka", "kafka_2.13", version},
			// Kafka's command-line tools (consumer-groups, console
			// consumer and producer, topics), for cross-checks by a
			// client nobody here wrote: see KafkaTool.
			{"org.apache.kafka", "kafka-tools", version},
			{"org.apache.logging.log4j", "log4j-slf4j-impl", Log4jVersion},
			{"org.apache.logging.log4j", "log4j-core", Log4jVersion},
			{"org.apache.logging.log4j", "log4j-api", Log4jVersion},
			{"org.slf4j", "slf4j-api", KafkaSLF4JVersion},
		},
		classes: []string{
			"kafka/Kafka.class",
			"kafka/tools/StorageTool.class",
			"org/apache/kafka/tools/consumer/group/ConsumerGroupCommand.class",
			"org/apache/kafka/tools/consumer/ConsoleConsumer.class",
			"org/apache/logging/slf4j/Log4jLoggerFactory.class",
			"org/apache/logging/log4j/core/LoggerContext.class",
			"org/slf4j/LoggerFactory.class",
		},
	}
}

func zookeeperJars(version string) jarSet {
	return jarSet{
		name: "zookeeper-" + version,
		deps: []mavenDep{
			{"org.apache.zookeeper", "zookeeper", version},
			{"io.dropwizard.metrics", "metrics-core", ZooKeeperMetricsVersion},
			{"org.slf4j", "slf4j-simple", ZooKeeperSLF4JVersion},
			{"org.xerial.snappy", "snappy-java", ZooKeeperSnappyVersion},
		},
		classes: []string{
			"org/apache/zookeeper/server/ZooKeeperServerMain.class",
			"com/codahale/metrics/MetricRegistry.class",
			"org/slf4j/simple/SimpleLogger.class",
			"org/xerial/snappy/SnappyInputStream.class",
		},
	}
}

// Prefetch resolves the jars cfg needs (Kafka, and ZooKeeper unless
// cfg.NoZooKeeper) into the cache without starting anything. It is what
// `kafka-instance -prefetch` runs to warm a CI cache.
func Prefetch(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	_, _, err = resolveAll(ctx, cfg)
	return err
}

// resolveAll returns the Kafka and ZooKeeper lib folders ("" when no
// ZooKeeper is wanted), resolving both in parallel when needed.
func resolveAll(ctx context.Context, cfg Config) (kafkaLib, zkLib string, err error) {
	zkDone := make(chan error, 1)
	if cfg.NoZooKeeper {
		zkDone <- nil
	} else {
		go func() {
			var err error
			zkLib, err = resolve(ctx, cfg, zookeeperJars(cfg.ZooKeeperVersion))
			zkDone <- err
		}()
	}
	kafkaLib, kerr := resolve(ctx, cfg, kafkaJars(cfg.KafkaVersion))
	zerr := <-zkDone
	return kafkaLib, zkLib, errors.Join(kerr, zerr)
}

// resolve returns the lib folder of set, resolving it with Maven first when
// the cache does not hold a complete copy.
//
// The jars are downloaded into a fresh temporary folder next to the final
// one; the marker file is written only after mvn succeeded and every class in
// set.classes was found, and then the folder is renamed into place. An
// interrupted run therefore leaves no folder that looks complete, and two
// processes resolving at once both succeed (the second rename loses and its
// copy is dropped).
func resolve(ctx context.Context, cfg Config, set jarSet) (string, error) {
	final := filepath.Join(cfg.CacheDir, set.name)
	lib := filepath.Join(final, "lib")
	if complete(final, set) {
		return lib, nil
	}
	mvn, err := findMaven(cfg.Maven)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("testinstance: cache dir: %w", err)
	}
	sweepStaleDownloads(cfg.CacheDir)
	tmp, err := os.MkdirTemp(cfg.CacheDir, ".tmp-"+set.name+"-")
	if err != nil {
		return "", fmt.Errorf("testinstance: cache dir: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename succeeded

	start := time.Now()
	cfg.logf("resolving %s with Maven into %s", set.name, final)
	pom := filepath.Join(tmp, "pom.xml")
	if err := os.WriteFile(pom, []byte(pomXML(set)), 0o644); err != nil {
		return "", err
	}
	tmpLib := filepath.Join(tmp, "lib")
	// -U: Maven caches "not found" and transfer failures in ~/.m2 and would
	// not ask Maven Central again for a while; we only get here on a cache
	// miss, so always ask.
	cmd := exec.CommandContext(ctx, mvn, "-q", "-B", "-U", "-Dstyle.color=never", "-f", pom, dependencyPlugin,
		"-DincludeScope=runtime", "-DoutputDirectory="+tmpLib)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd.Process, true) }
	err = startCmd(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("testinstance: resolving %s: %w", set.name, ctx.Err())
		}
		return "", &MavenError{What: set.name, Err: err, Output: lastLines(ansi.ReplaceAllString(out.String(), ""), 40)}
	}
	jars, err := checkClasses(tmpLib, set.classes)
	if err != nil {
		return "", fmt.Errorf("testinstance: resolved %s but %w", set.name, err)
	}
	marker := fmt.Sprintf("%s\nresolved at %s in %s\n%s\n", set.recipe(), time.Now().UTC().Format(time.RFC3339),
		time.Since(start).Round(time.Millisecond), strings.Join(jars, "\n"))
	if err := os.WriteFile(filepath.Join(tmp, markerFile), []byte(marker), 0o644); err != nil {
		return "", err
	}
	os.Remove(pom)
	if err := os.Rename(tmp, final); err != nil {
		if complete(final, set) { // another process won the race
			return lib, nil
		}
		// An incomplete folder, or one resolved from another recipe: replace it.
		if rerr := os.RemoveAll(final); rerr != nil {
			return "", fmt.Errorf("testinstance: replacing %s: %w", final, rerr)
		}
		if err := os.Rename(tmp, final); err != nil {
			return "", fmt.Errorf("testinstance: moving jars into the cache: %w", err)
		}
	}
	cfg.logf("resolved %s (%d jars) in %s", set.name, len(jars), time.Since(start).Round(time.Millisecond))
	return lib, nil
}

// complete reports whether dir holds a finished resolution of set: the
// marker exists and its first line is set's recipe (so a cache written by an
// older version of this package with other dependencies is redone).
func complete(dir string, set jarSet) bool {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	return err == nil && firstLine(string(b)) == set.recipe()
}

// recipe is one line naming every dependency of set.
func (set jarSet) recipe() string {
	parts := make([]string, len(set.deps))
	for i, d := range set.deps {
		parts[i] = d.group + ":" + d.artifact + ":" + d.version
	}
	return "deps " + strings.Join(parts, " ")
}

// sweepStaleDownloads removes temporary folders of interrupted resolutions.
func sweepStaleDownloads(cache string) {
	old, _ := filepath.Glob(filepath.Join(cache, ".tmp-*"))
	for _, d := range old {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.RemoveAll(d)
		}
	}
}

func pomXML(set jarSet) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.gokafka.testinstance</groupId>
  <artifactId>` + set.name + `</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
`)
	for _, d := range set.deps {
		fmt.Fprintf(&b, "    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n",
			d.group, d.artifact, d.version)
	}
	b.WriteString("  </dependencies>\n</project>\n")
	return b.String()
}

// checkClasses returns the jar names in lib and an error naming any class
// of want that no jar contains.
func checkClasses(lib string, want []string) ([]string, error) {
	entries, err := os.ReadDir(lib)
	if err != nil {
		return nil, err
	}
	missing := make(map[string]bool, len(want))
	for _, c := range want {
		missing[c] = true
	}
	var jars []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".jar") {
			continue
		}
		jars = append(jars, e.Name())
		if len(missing) == 0 {
			continue
		}
		zr, err := zip.OpenReader(filepath.Join(lib, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("jar %s is unreadable: %w", e.Name(), err)
		}
		for _, f := range zr.File {
			delete(missing, f.Name)
		}
		zr.Close()
	}
	if len(missing) > 0 {
		var names []string
		for c := range missing {
			names = append(names, c)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("classes are missing: %s", strings.Join(names, ", "))
	}
	return jars, nil
}

func findMaven(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w: %v", ErrMavenMissing, err)
		}
		return explicit, nil
	}
	p, err := exec.LookPath("mvn")
	if err != nil {
		return "", ErrMavenMissing
	}
	return p, nil
}

func findJava(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w: %v", ErrJavaMissing, err)
		}
		return explicit, nil
	}
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
			return "", ErrJavaMissing
		}
		return "", fmt.Errorf("%w: %v", ErrJavaMissing, err)
	}
	return p, nil
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// lastLines returns at most n trailing lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
