package testinstance

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns for one of these
// conditions matches the sentinel with errors.Is, however it is wrapped.
var (
	// ErrJavaMissing: no java executable (JDK/JRE 17+) on PATH or in
	// $JAVA_HOME/bin.
	ErrJavaMissing = errors.New("testinstance: java not found (install a JDK 17+, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)")
	// ErrMavenMissing: no mvn executable on PATH.
	ErrMavenMissing = errors.New("testinstance: mvn not found (install Maven, e.g. apt-get install maven)")
	// ErrMavenFailed: Maven ran but could not resolve the jars (registry
	// unreachable, unknown version, ...). The concrete error is a *MavenError
	// carrying the tail of Maven's output.
	ErrMavenFailed = errors.New("testinstance: resolving jars with Maven failed")
	// ErrPortInUse: a port the cluster needs is taken by another process.
	ErrPortInUse = errors.New("testinstance: port already in use")
	// ErrProcessExited: a Kafka or ZooKeeper process exited while it was
	// starting. The concrete error is a *ProcessExitError with the tail of
	// the process's log.
	ErrProcessExited = errors.New("testinstance: process exited")
	// ErrExternalCluster: the operation (stopping, killing or starting a
	// node) is impossible on a cluster this package did not start, i.e. one
	// given by the BROKERS / ZOOKEEPER environment variables.
	ErrExternalCluster = errors.New("testinstance: not possible on an external cluster")
	// ErrNoZooKeeper: the cluster runs without ZooKeeper (Config.NoZooKeeper,
	// or an external cluster without ZOOKEEPER).
	ErrNoZooKeeper = errors.New("testinstance: cluster has no ZooKeeper")
	// ErrClosed: the cluster was closed.
	ErrClosed = errors.New("testinstance: cluster closed")
)

// MavenError is returned when mvn fails to resolve a set of jars.
type MavenError struct {
	What   string // e.g. "kafka_2.13 4.3.1"
	Err    error  // mvn's exit error
	Output string // the last lines of mvn's output
}

func (e *MavenError) Error() string {
	return fmt.Sprintf("testinstance: mvn could not resolve %s: %v (is Maven Central reachable? does the version exist?)\n--- mvn output (tail) ---\n%s", e.What, e.Err, e.Output)
}

// Unwrap makes errors.Is(err, ErrMavenFailed) true.
func (e *MavenError) Unwrap() []error { return []error{ErrMavenFailed, e.Err} }

// PortInUseError names a port that is taken.
type PortInUseError struct {
	Addr string // host:port
	Err  error  // the bind error, if known
}

func (e *PortInUseError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("testinstance: port %s already in use: %v", e.Addr, e.Err)
	}
	return "testinstance: port " + e.Addr + " already in use"
}

// Is makes errors.Is(err, ErrPortInUse) true.
func (e *PortInUseError) Is(target error) bool { return target == ErrPortInUse }

// ProcessExitError is returned when a node's process exits while the package
// waits for it to become ready (or during a one-shot tool run such as the
// storage format).
type ProcessExitError struct {
	Name    string // e.g. "kafka-2", "zookeeper", "kafka-1 storage format"
	Err     error  // the exit status
	LogFile string // full log of the process
	LogTail string // the last lines of LogFile
}

func (e *ProcessExitError) Error() string {
	return fmt.Sprintf("testinstance: %s exited while starting: %v (log: %s)\n--- log tail ---\n%s", e.Name, e.Err, e.LogFile, e.LogTail)
}

// portInUse reports whether the log tail shows a bind failure.
func (e *ProcessExitError) portInUse() bool {
	return strings.Contains(e.LogTail, "Address already in use") || strings.Contains(e.LogTail, "BindException")
}

// Is makes errors.Is(err, ErrProcessExited) true, and errors.Is(err,
// ErrPortInUse) true when the log shows that a port was taken.
func (e *ProcessExitError) Is(target error) bool {
	return target == ErrProcessExited || (target == ErrPortInUse && e.portInUse())
}

// Unwrap returns the exit status error.
func (e *ProcessExitError) Unwrap() error { return e.Err }
