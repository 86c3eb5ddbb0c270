package scan

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Scans, kill watchers and fixture servers all end with their test.
	goleak.VerifyTestMain(m)
}
