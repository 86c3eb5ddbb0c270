package daemon

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// maxDevices bounds the device table: a hostile or misconfigured sender
// that puts a new host name on every line must not grow memory without
// end. Past it, lines are counted under overflowDevice.
const maxDevices = 10_000

const overflowDevice = "(other devices)"

// devices tracks what each reporting device sent and when, for health:
// central's report lists the devices that went silent.
type devices struct {
	mu sync.Mutex
	m  map[deviceKey]*detect.DeviceHealth
}

type deviceKey struct{ device, dataset, input string }

// deviceCounts is one parse batch's tally, merged under one lock.
type deviceCounts map[deviceKey]*detect.DeviceHealth

func (c deviceCounts) add(device, dataset, input string, at time.Time, failed bool) {
	k := deviceKey{device, dataset, input}
	d := c[k]
	if d == nil {
		d = &detect.DeviceHealth{Device: device, Dataset: dataset, Input: input}
		c[k] = d
	}
	d.Lines++
	if failed {
		d.Failed++
	}
	if at.After(d.LastSeen) {
		d.LastSeen = at
	}
}

func (t *devices) merge(c deviceCounts) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[deviceKey]*detect.DeviceHealth)
	}
	for ck, d := range c {
		k := ck
		cur := t.m[k]
		if cur == nil {
			if len(t.m) >= maxDevices {
				k = deviceKey{overflowDevice, "", ""}
				cur = t.m[k]
			}
			if cur == nil {
				cur = &detect.DeviceHealth{Device: k.device, Dataset: k.dataset, Input: k.input}
				t.m[k] = cur
			}
		}
		cur.Lines += d.Lines
		cur.Failed += d.Failed
		if d.LastSeen.After(cur.LastSeen) {
			cur.LastSeen = d.LastSeen
		}
	}
	clear(c)
}

// snapshot returns the devices sorted by name.
func (t *devices) snapshot() []detect.DeviceHealth {
	t.mu.Lock()
	out := make([]detect.DeviceHealth, 0, len(t.m))
	for _, d := range t.m {
		out = append(out, *d)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b detect.DeviceHealth) int {
		return cmp.Or(cmp.Compare(a.Device, b.Device), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Input, b.Input))
	})
	return out
}
