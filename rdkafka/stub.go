//go:build !cgo || nordkafka

package rdkafka

// Enabled reports whether this build contains the librdkafka engine. It is
// false here: the program was built without cgo (CGO_ENABLED=0) or with
// -tags nordkafka, so this package registers nothing and a producer or
// consumer with UseRdkafka fails with kafka.ErrEngineNotEnabled.
const Enabled = false

// LibraryVersion is "" when the engine is not built in.
func LibraryVersion() string { return "" }
