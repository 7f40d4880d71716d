// Package cli is the rigging command tree (cobra): plugins, exec, store,
// backup, restore, verify and run-plugins. It holds no plugins itself; the
// binary's main package blank-imports the plugin packages it ships and calls
// Main, so a distribution builder chooses the plugins by editing imports.
//
// Exit codes: ExitOK (0) on success, ExitFailure (1) when the command ran
// and failed, ExitUsage (2) for a usage error (an unknown command or flag, a
// missing or malformed argument), ExitInterrupted (130) and ExitTerminated
// (143) when SIGINT or SIGTERM stopped the command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes of Main and Run. The last two are the shell's 128+signal.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130 // SIGINT
	ExitTerminated  = 143 // SIGTERM
)

func init() {
	// Run every PersistentPreRunE from the root down, so a command group
	// that adds its own hook does not silently skip the root's set-up
	// (logging, metrics).
	cobra.EnableTraverseRunHooks = true
}

// Main runs rigging with the process's arguments and standard streams and
// returns the exit code. When the process was started by a plugin host as a
// plugin server (go-plugin's handshake in the environment), it serves the
// compiled-in plugins instead and returns when the host is done. SIGINT and
// SIGTERM cancel the running command's context with an *Interrupted cause:
// the command stops what it runs (plugin processes included), removes its
// temporary files and returns ExitInterrupted or ExitTerminated. A second
// signal exits at once, without waiting for that clean-up.
// Without GOMEMLIMIT in the environment, the Go runtime's soft memory
// limit is set to 90% of the process's cgroup memory limit, if it has one
// (defaultMemoryLimit).
func Main() int {
	if servePluginsIfChild() {
		return ExitOK
	}
	setDefaultMemoryLimit()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sigs:
			cancel(&Interrupted{Signal: s})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			intr := &Interrupted{Signal: s}
			fmt.Fprintf(os.Stderr, "rigging: %v again; exiting without clean-up\n", intr)
			os.Exit(intr.ExitCode())
		case <-done:
		}
	}()
	return Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Interrupted is the cause (context.Cause) of a command's context
// cancelled by a signal: Run then returns its ExitCode.
type Interrupted struct {
	Signal os.Signal
}

// Error says which signal it was: "interrupted by SIGINT".
func (e *Interrupted) Error() string { return "interrupted by " + signalName(e.Signal) }

// ExitCode is 128 plus the signal's number: ExitInterrupted for SIGINT,
// ExitTerminated for SIGTERM.
func (e *Interrupted) ExitCode() int {
	if e.Signal == syscall.SIGTERM {
		return ExitTerminated
	}
	return ExitInterrupted
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// Run runs one rigging command line (args without the program name) with the
// given streams and returns the exit code. Errors are printed to stderr as
// "rigging: <error>". When ctx is cancelled with an *Interrupted cause, it
// reports the interruption and returns the signal's exit code, whatever
// the command returned. It keeps no state between calls, so tests and
// embedders may call it repeatedly.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globalFlags{stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if cerr := g.close(); err == nil && cerr != nil {
		err = cerr
	}
	var intr *Interrupted
	if errors.As(context.Cause(ctx), &intr) {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.As(err, new(*Interrupted)) {
			fmt.Fprintf(stderr, "rigging: %v\n", err)
		}
		fmt.Fprintf(stderr, "rigging: %v; stopped\n", intr)
		return intr.ExitCode()
	}
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "rigging: %v\n", err)
	if errors.As(err, new(*usageError)) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	}
	return ExitFailure
}

// usageError marks an error in how a command was invoked (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usage error.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// asUsage marks err as a usage error; nil stays nil.
func asUsage(err error) error {
	if err == nil || errors.As(err, new(*usageError)) {
		return err
	}
	return &usageError{err: err}
}

// args wraps a cobra positional-argument check so its errors are usage
// errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error { return asUsage(check(cmd, a)) }
}

// groupCommand makes cmd a command that only holds subcommands: run without
// one it prints its help; run with an unknown one it is a usage error.
func groupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, a []string) error {
		if len(a) > 0 {
			msg := fmt.Sprintf("unknown command %q for %q", a[0], c.CommandPath())
			if s := c.SuggestionsFor(a[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return &usageError{err: errors.New(msg)}
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}
