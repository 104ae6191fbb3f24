//go:build cgo && !nordkafka

package rdkafka

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
)

// TestBuildsWithoutEngine builds, vets and tests this package the two ways
// that leave the engine out: CGO_ENABLED=0, and -tags nordkafka with cgo
// on. The stub's test (stub_test.go) then checks that nothing is
// registered.
func TestBuildsWithoutEngine(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	const pkg = "github.com/gokafka/kafka/rdkafka"
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{[]string{"CGO_ENABLED=0"}, []string{"build", pkg}},
		{[]string{"CGO_ENABLED=0"}, []string{"vet", pkg}},
		{[]string{"CGO_ENABLED=0"}, []string{"test", "-count=1", "-run", "TestStub", pkg}},
		{nil, []string{"vet", "-tags", "nordkafka", pkg}},
		{nil, []string{"test", "-count=1", "-tags", "nordkafka", "-run", "TestStub", pkg}},
	} {
		ctx := testhelp.Ctx(t, 5*time.Minute)
		cmd := exec.CommandContext(ctx, gobin, tc.args...)
		cmd.Env = append(os.Environ(), tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v go %v: %v\n%s", tc.env, tc.args, err, out)
		}
		t.Logf("%v go %v: ok", tc.env, tc.args)
	}
}
