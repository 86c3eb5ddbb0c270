// Package groupcommit gathers concurrent writes into groups, so that a
// store writes each group in one transaction and pays one commit, and one
// flush to disk, for all of it.
package groupcommit

// Run takes requests from in until closing is closed. Each time it takes
// one, it adds those already waiting, up to maxN requests or until the
// group holds maxRows rows (as rows counts them), and calls write with the
// group. The slice is reused: write must not keep it. A group Run has
// taken is written before it returns, so a store that closes closing and
// waits for Run drains what it accepted.
func Run[R any](in <-chan R, closing <-chan struct{}, maxN, maxRows int, rows func(R) int, write func([]R)) {
	group := make([]R, 0, maxN)
	for {
		select {
		case r := <-in:
			group = append(group[:0], r)
		case <-closing:
			return
		}
		n := rows(group[0])
	more:
		for len(group) < maxN && n < maxRows {
			select {
			case r := <-in:
				group = append(group, r)
				n += rows(r)
			default:
				break more
			}
		}
		write(group)
		clear(group)
	}
}
