package demo

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
)

// TestRealtimeSection runs the realtime section shrunk (5 clients, one tick
// rate, 400 ms held per transport) against the real WebSocket server and checks
// every transport delivered events without errors, the table and the result
// files (delivery is asserted by wsdrv's end-to-end tests; a 400 ms poll run
// on a loaded machine can miss its last poll).
func TestRealtimeSection(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	dir := t.TempDir()
	p := realtimePlan{clients: 5, connect: 250 * time.Millisecond, dur: 400 * time.Millisecond, pollDur: 400 * time.Millisecond,
		rates: []float64{50}, chatRoom: 6, chatRate: 10, drain: 2 * time.Second, chatDrain: 500 * time.Millisecond}
	cells, err := runRealtime(t.Context(), &Options{IO: ios, OutDir: dir}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != len(rtTransports)+1 {
		t.Fatalf("%d cells", len(cells))
	}
	for _, c := range cells {
		if c.err != nil || c.res == nil || c.received() == 0 || c.res.Fanout == nil || c.res.Requests.Errors != 0 || c.res.Messages.Errors != 0 {
			t.Fatalf("%s: err %v result %+v", c.label, c.err, c.res)
		}
	}
	if err := writeRealtimeTable(out, p, cells); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"requests/event", "poll 1s, no 304", "long-poll", "SSE", "WebSocket", "chat (room of 6, 10 msg/s)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != len(cells) {
		t.Fatalf("%d result files for %d cells", len(files), len(cells))
	}
	r, err := metrics.Load(filepath.Join(dir, "realtime-50-WebSocket.json"))
	if err != nil || r.Protocol != "ws" {
		t.Fatalf("result file: %v %+v", err, r)
	}
}

// TestRealtimeSkipsOnLowFileLimit: a box whose open-file limit cannot hold
// the section skips it with a note under --section all (the demo goes on
// and succeeds) and fails with a usage error naming the fix when it is the
// one section asked for.
func TestRealtimeSkipsOnLowFileLimit(t *testing.T) {
	t.Parallel()
	low := func(p *realtimePlan) {
		p.noFile = func(uint64) (uint64, uint64, error) { return 256, 512, nil }
	}
	ios, _, out, errOut := iostreams.Test()
	opts := &Options{IO: ios, Section: SectionAll, tuneRealtime: low}
	full, err := loadPlan(opts)
	if err != nil {
		t.Fatal(err)
	}
	sec, written, failed, err := realtimeSection(t.Context(), opts, full.Realtime, nil, true)
	if err != nil || sec != nil || written || failed != "" {
		t.Fatalf("section all: %v %v %v %q", err, sec, written, failed)
	}
	const why = "it needs about 6256 file descriptors but the open-file limit is 256 (hard limit 512); raise it (ulimit -n 6256) or use --quick"
	if !strings.Contains(out.String(), "Realtime: skipped: "+why) || !strings.Contains(errOut.String(), "loadrig demo realtime: skipped: "+why) {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	opts = &Options{IO: ios, Section: SectionRealtime, Quick: true, tuneRealtime: low}
	quick, err := loadPlan(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = realtimeSection(t.Context(), opts, quick.Realtime, nil, false)
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || err.Error() != "--section realtime: it needs about 1456 file descriptors but the open-file limit is 256 (hard limit 512); raise it (ulimit -n 1456)" {
		t.Fatalf("section realtime: %v", err)
	}
}

// TestRealtimePlanFromProfile: the embedded profile's realtime section is
// the plan the README's figures were measured with, 1,000 clients and 200
// with --quick.
func TestRealtimePlanFromProfile(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		quick bool
		want  realtimePlan
	}{
		{false, realtimePlan{clients: 1000, connect: 500 * time.Millisecond, dur: 2500 * time.Millisecond, pollDur: 3 * time.Second,
			rates: []float64{1, 4, 50}, chatRoom: 100, chatRate: 10, drain: 3 * time.Second, chatDrain: time.Second}},
		{true, realtimePlan{clients: 200, connect: 250 * time.Millisecond, dur: 750 * time.Millisecond, pollDur: 1500 * time.Millisecond,
			rates: []float64{1, 4, 50}, chatRoom: 100, chatRate: 10, drain: 2 * time.Second, chatDrain: 500 * time.Millisecond}},
	} {
		pl, err := loadPlan(&Options{Quick: c.quick})
		if err != nil || pl.Realtime == nil {
			t.Fatalf("quick %v: %v", c.quick, err)
		}
		if got := newRealtimePlan(pl.Realtime); !reflect.DeepEqual(got, c.want) {
			t.Errorf("quick %v:\n got %+v\nwant %+v", c.quick, got, c.want)
		}
	}
}
