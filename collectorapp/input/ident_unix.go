//go:build unix

package input

import (
	"io/fs"
	"syscall"
)

// devIno returns a file's device and inode numbers.
func devIno(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // the fields' types differ between systems
	}
	return 0, 0
}
