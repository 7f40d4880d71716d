package measure

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
)

// request and response are the lines of the child protocol: the
// orchestrator writes one request per line on the child's stdin, the child
// answers with one response line on its stdout.
type request struct {
	Op string `json:"op"`
	N  int    `json:"n"`
}

type response struct {
	Sample Sample `json:"sample"`
	Err    string `json:"err,omitempty"`
}

// ServeChild answers requests read from r with the named operations and
// writes responses to w until r ends. An unknown operation is an error
// answer, not a crash.
func ServeChild(r io.Reader, w io.Writer, ops map[string]func(n int) (Sample, error)) error {
	sc := bufio.NewScanner(r)
	enc := json.NewEncoder(w)
	for sc.Scan() {
		var req request
		var res response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			res.Err = "bad request: " + err.Error()
		} else if op, ok := ops[req.Op]; !ok {
			res.Err = "unknown operation " + req.Op
		} else if s, err := op(req.N); err != nil {
			res.Err = err.Error()
		} else {
			res.Sample = s
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Child is a process serving ServeChild on its stdin and stdout. Safe for
// use by one goroutine at a time.
type Child struct {
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	mu   sync.Mutex
}

// StartChild starts cmd (whose Stdin and Stdout must be unset) as a child
// named name (for errors).
func StartChild(name string, cmd *exec.Cmd) (*Child, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &Child{name: name, cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

// Run asks the child to run op with n.
func (c *Child) Run(op string, n int) (Sample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(request{Op: op, N: n})
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return Sample{}, fmt.Errorf("%s: %s: %w", c.name, op, err)
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %s: no answer: %w", c.name, op, err)
	}
	var res response
	if err := json.Unmarshal(line, &res); err != nil {
		return Sample{}, fmt.Errorf("%s: %s: %w", c.name, op, err)
	}
	if res.Err != "" {
		return Sample{}, fmt.Errorf("%s: %s: %s", c.name, op, res.Err)
	}
	return res.Sample, nil
}

// Case returns a Case running op in the child.
func (c *Child) Case(name, op string) Case {
	return Case{Name: name, Run: func(n int) (Sample, error) { return c.Run(op, n) }}
}

// Close ends the child's input and waits for it to exit.
func (c *Child) Close() error {
	c.in.Close()
	return c.cmd.Wait()
}
