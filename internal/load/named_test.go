package load

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// namedDriver names its operations and counts wire bytes.
type namedDriver struct {
	*fakeDriver
	sent, recv atomic.Int64
}

func (n *namedDriver) OperationNames() []string { return []string{"A", "B"} }
func (n *namedDriver) WireBytes() metrics.Bytes {
	return metrics.Bytes{Sent: n.sent.Load(), Received: n.recv.Load()}
}

// Outcome.Op files each operation under its driver-given name, and a
// WireCounter's bytes, minus the warm-up's, become Result.Bytes.
func TestNamedOperationsAndWireBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &namedDriver{}
		n.fakeDriver = &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			n.sent.Add(100)
			n.recv.Add(1000)
			k := int(op.Seq() % 3) // 0 unnamed, 1 A, 2 B
			d := time.Duration(k+1) * time.Millisecond
			sleep(ctx, d)
			out := Outcome{Op: k, BytesSent: 1, BytesReceived: 1}
			if k == 2 && op.Seq()%2 == 0 {
				out.Err = "graphql_error"
			}
			return out
		}}
		res := run(t, t.Context(), n, Config{Rate: 100, Duration: 3 * time.Second, Warmup: time.Second})
		a, b := res.Operations["A"], res.Operations["B"]
		if a == nil || b == nil || len(res.Operations) != 2 {
			t.Fatalf("operations = %+v", res.Operations)
		}
		if sum := a.Requests.Total + b.Requests.Total; sum < res.Requests.Total/2 || sum >= res.Requests.Total || a.Requests.Errors != 0 || b.Requests.Errors == 0 {
			t.Errorf("requests A %+v B %+v of %+v", a.Requests, b.Requests, res.Requests)
		}
		equiv(t, "A p50", a.Latency.P50, 2*time.Millisecond)
		equiv(t, "B p50", b.Latency.P50, 3*time.Millisecond)
		if b.Requests.ErrorsByKind["graphql_error"] != b.Requests.Errors || b.Latency.N != b.Requests.OK {
			t.Errorf("B = %+v", b)
		}
		// 300 measured operations, 100 bytes sent each on the wire.
		if res.Bytes == nil || res.Bytes.Sent != 100*res.Requests.Total || res.Bytes.Received != 1000*res.Requests.Total {
			t.Errorf("bytes = %+v, want the wire counts of %d measured operations", res.Bytes, res.Requests.Total)
		}
	})
}
