// Command wsbare is the benchmark's baseline client: a bare coder/websocket
// echo loop with no measurement beyond counting — N connections, each
// sending a small JSON frame at rate/N per second from a ticker, a reader
// goroutine counting replies — for d, then it prints what it sent and
// received. Its CPU is read by /usr/bin/time around it.
package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:18090/ws/echo", "echo server")
	conns := flag.Int("c", 50, "connections")
	rate := flag.Float64("rate", 10000, "messages per second in total")
	dur := flag.Duration("d", 10*time.Second, "duration")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var sent, recv atomic.Int64
	var wg sync.WaitGroup
	interval := time.Duration(float64(*conns) / *rate * float64(time.Second))
	for i := range *conns {
		c, _, err := websocket.Dial(context.Background(), *url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			panic(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
				recv.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			var b []byte
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					time.Sleep(time.Second) // drain, as the driver does
					c.Close(websocket.StatusNormalClosure, "")
					return
				case <-t.C:
				}
				b = append(b[:0], `{"id":"`...)
				b = strconv.AppendInt(b, int64(n), 10)
				b = append(b, `","ts":`...)
				b = strconv.AppendInt(b, time.Now().UnixMicro(), 10)
				b = append(b, `,"type":"msg","data":{"text":"hello"}}`...)
				if c.Write(context.Background(), websocket.MessageText, b) != nil {
					return
				}
				sent.Add(1)
			}
		}()
		_ = i
	}
	wg.Wait()
	fmt.Printf("sent %d received %d (%.0f/s)\n", sent.Load(), recv.Load(), float64(recv.Load())/dur.Seconds())
}
