package load_test

import (
	"context"
	"fmt"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// echoDriver is the smallest Driver: every operation succeeds at once.
type echoDriver struct{}

func (echoDriver) Protocol() string { return "echo" }
func (echoDriver) Target() string   { return "echo://local" }
func (echoDriver) Close() error     { return nil }
func (echoDriver) NewWorker(context.Context, int) (load.Worker, error) {
	return echoWorker{}, nil
}

type echoWorker struct{}

func (echoWorker) Do(ctx context.Context, op *load.Op) load.Outcome {
	op.MarkSent() // the request goes on the wire now
	return load.Outcome{BytesSent: 5, BytesReceived: 5}
}
func (echoWorker) Close() error { return nil }

func ExampleRun() {
	d := echoDriver{}
	defer d.Close() // the caller closes the driver; Run closes the workers
	res, err := load.Run(context.Background(), d, load.Config{Concurrency: 2, Requests: 100, Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Schema, res.Protocol, res.Model.Kind, res.StopReason, res.Requests.OK, res.Bytes.Sent)
	fmt.Println(res.Generator.Note)
	fmt.Println(res.ScheduleLag == (*metrics.Summary)(nil))
	// Output:
	// loadrig.result/v1 echo closed count 100 500
	// closed model: latency is service time; there is no schedule, so stalls hide inside the workers (use --rate for latency from intended start)
	// true
}

func ExampleParseStages() {
	stages, err := load.ParseStages("10s:0-1000,30s:1000,10s:1000-0")
	fmt.Println(len(stages), stages[0].From, stages[0].To, load.FormatStages(stages), err)
	_, err = load.ParseStages("10s:0-1000,30x:1000")
	fmt.Println(err)
	// Output:
	// 3 0 1000 10s:0-1000,30s:1000,10s:1000-0 <nil>
	// stage 2 "30x:1000": bad duration "30x" (want DURATION:RATE or DURATION:FROM-TO, e.g. 30s:1000 or 10s:0-1000)
}
