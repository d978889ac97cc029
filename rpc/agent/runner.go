package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxOutput bounds how much of a command's stdout, and of its
// stderr, is kept.
const DefaultMaxOutput = 64 << 10

// Command is a program to run and its arguments, as separate argv
// elements: plugins never build a shell command line, so no input can
// reach a shell.
type Command struct {
	Path string
	Args []string
	// MaxOutput bounds the bytes kept of stdout and of stderr; 0 means
	// DefaultMaxOutput.
	MaxOutput int
}

// String is the command line for logs and messages (not for a shell).
func (c Command) String() string {
	s := c.Path
	for _, a := range c.Args {
		s += " " + a
	}
	return s
}

// Output is what a finished command left.
type Output struct {
	Stdout, Stderr []byte
	ExitCode       int
	// Truncated is set when stdout or stderr was cut at MaxOutput.
	Truncated bool
}

// Runner runs commands for plugins. Tests use a fake one; ExecRunner runs
// real programs.
type Runner interface {
	// Run runs cmd until it exits or ctx ends. A non-zero exit status is
	// not an error: it is Output.ExitCode. The error reports a program
	// that could not start or was killed when ctx ended.
	Run(ctx context.Context, cmd Command) (Output, error)
	// Start starts cmd in the background, in its own session, and does not
	// wait for it (a Puppet run outlives the request that started it).
	Start(cmd Command) error
	// LookPath reports the path of a program, or an error if it is not
	// installed.
	LookPath(name string) (string, error)
}

// ExecRunner runs real programs with os/exec, with LC_ALL=C so that
// their output parses the same everywhere.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run runs cmd; see Runner.
func (ExecRunner) Run(ctx context.Context, cmd Command) (Output, error) {
	limit := cmd.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	c.Stdin = nil
	stdout, stderr := &limitedBuffer{max: limit}, &limitedBuffer{max: limit}
	c.Stdout, c.Stderr = stdout, stderr
	// A grandchild that keeps the pipes open must not hang the action.
	c.WaitDelay = time.Second
	err := c.Run()
	out := Output{Stdout: stdout.buf, Stderr: stderr.buf, Truncated: stdout.cut || stderr.cut}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return out, fmt.Errorf("run %s: %w", cmd.Path, ctx.Err())
	case errors.As(err, &exit):
		out.ExitCode = exit.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
	default:
		return out, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	return out, nil
}

// Start starts cmd detached from the agent: its own session, no stdio,
// reaped by a goroutine.
func (ExecRunner) Start(cmd Command) error {
	c := exec.Command(cmd.Path, cmd.Args...)
	c.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go c.Wait() //nolint:errcheck // the run reports through its own files
	return nil
}

// LookPath finds a program in PATH, or checks an absolute path.
func (ExecRunner) LookPath(name string) (string, error) { return exec.LookPath(name) }

// limitedBuffer keeps the first max bytes written and discards the rest,
// so that a chatty command cannot fill the agent's memory.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - len(b.buf)
	if room < len(p) {
		b.cut = true
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}
