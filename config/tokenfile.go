package config

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxTokenFileBytes bounds a token file. A Jenkins API token is 34
// characters; a few kB leave room for a trailing newline and any sane
// secret while a link to a device or a log file is refused before it is
// read.
const MaxTokenFileBytes = 4096

// ReadTokenFile reads a token file without ever blocking or reading more
// than MaxTokenFileBytes. Symbolic links are followed (a Kubernetes
// Secret's key is a link through ..data to a regular file), but what they
// lead to must be a regular file: a FIFO would block the read forever, a
// device such as /dev/zero never ends. It is opened non-blocking, so that
// even a FIFO named here returns at once, and judged by fstat of what was
// opened, so a link swapped between a check and the read changes nothing.
func ReadTokenFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file (%s)", describeMode(fi.Mode()))
	}
	if fi.Size() > MaxTokenFileBytes {
		return nil, fmt.Errorf("is %d bytes; a token file holds at most %d", fi.Size(), MaxTokenFileBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxTokenFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxTokenFileBytes {
		return nil, fmt.Errorf("holds more than %d bytes", MaxTokenFileBytes)
	}
	return b, nil
}

func describeMode(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}
