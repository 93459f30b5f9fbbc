package reliability

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test here runs servers, clients and watchers: none of their
// goroutines may outlive the package's tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
