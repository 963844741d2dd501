package profile

import (
	"context"
	"errors"
	"fmt"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// Mix returns a driver that runs the given drivers' operations in
// proportion to weights: operation seq goes to the driver its hashed
// sequence number falls on, so the choice is deterministic, spread evenly
// over time, and independent of worker scheduling. Every engine worker gets
// one worker of each sub-driver. Protocol and Target are the first
// driver's. Connections (load.ConnCounter) sums the sub-drivers'.
func Mix(drivers []load.Driver, weights []int) (load.Driver, error) {
	if len(drivers) == 0 || len(drivers) != len(weights) {
		return nil, errors.New("mix: need one weight per driver, at least one driver")
	}
	m := &mix{drivers: drivers}
	for i, w := range weights {
		if w <= 0 {
			return nil, fmt.Errorf("mix: weight %d of driver %d must be > 0", w, i)
		}
		for range w {
			m.table = append(m.table, uint8(i))
		}
	}
	if len(drivers) > 255 {
		return nil, errors.New("mix: at most 255 drivers")
	}
	return m, nil
}

type mix struct {
	drivers []load.Driver
	table   []uint8 // one entry per unit of weight
}

func (m *mix) Protocol() string { return m.drivers[0].Protocol() }
func (m *mix) Target() string   { return m.drivers[0].Target() }

func (m *mix) NewWorker(ctx context.Context, id int) (load.Worker, error) {
	w := &mixWorker{m: m, ws: make([]load.Worker, len(m.drivers))}
	for i, d := range m.drivers {
		sw, err := d.NewWorker(ctx, id)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.ws[i] = sw
	}
	return w, nil
}

func (m *mix) Close() error {
	var errs []error
	for _, d := range m.drivers {
		errs = append(errs, d.Close())
	}
	return errors.Join(errs...)
}

// Connections sums the client-side connection accounting of the drivers
// that keep it.
func (m *mix) Connections() metrics.Connections {
	var c metrics.Connections
	for _, d := range m.drivers {
		if cc, ok := d.(load.ConnCounter); ok {
			x := cc.Connections()
			c.Opened += x.Opened
			c.Reused += x.Reused
			c.PeakOpen += x.PeakOpen
		}
	}
	return c
}

type mixWorker struct {
	m  *mix
	ws []load.Worker
}

// Pick returns the index of the driver that runs operation seq, for tests
// and for reporting the realised mix.
func (m *mix) Pick(seq uint64) int {
	return int(m.table[splitmix(seq)%uint64(len(m.table))])
}

func (w *mixWorker) Do(ctx context.Context, op *load.Op) load.Outcome {
	return w.ws[w.m.Pick(op.Seq())].Do(ctx, op)
}

func (w *mixWorker) Close() error {
	var errs []error
	for _, sw := range w.ws {
		if sw != nil {
			errs = append(errs, sw.Close())
		}
	}
	return errors.Join(errs...)
}

// splitmix is SplitMix64's finalizer: a cheap, well-mixed hash of seq.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
