package external

import (
	"io/fs"
	"syscall"
)

// inodeCtime returns the inode and change time (ns) stat reports.
func inodeCtime(fi fs.FileInfo) (uint64, int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return st.Ino, st.Ctim.Nano()
}
