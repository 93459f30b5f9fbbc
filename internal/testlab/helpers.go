package testlab

import (
	"bytes"
	"sync"
	"time"

	"github.com/jenkins-failover-watchdog/jenkins-failover-watchdog/jenkins"
)

// TB is the part of testing.TB the lab uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// SyncBuffer is a bytes.Buffer safe for the concurrent writes of loggers
// and commands.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is injected time: it moves only when the test says so, so tests
// never sleep.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ErrorKinds are the labels of jenkins_errors_total the daemon pre-creates:
// every jenkins.Kind.
func ErrorKinds() []string {
	kinds := make([]string, 0, len(jenkins.Kinds))
	for _, k := range jenkins.Kinds {
		kinds = append(kinds, string(k))
	}
	return kinds
}
