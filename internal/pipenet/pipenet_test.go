package pipenet

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
)

func TestDialAcceptClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Listen()
		go func() {
			c, err := l.Accept()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			io.Copy(c, c) // echo until the client closes
		}()
		c, err := l.Dial(t.Context(), "tcp", "ignored")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("hi")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi" {
			t.Fatalf("echo %q %v", buf, err)
		}
		c.Close()
		synctest.Wait()

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := l.Dial(ctx, "tcp", ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("dial with a canceled context: %v", err)
		}
		l.Close()
		l.Close()
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept after close: %v", err)
		}
		if _, err := l.Dial(t.Context(), "tcp", ""); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("dial after close: %v", err)
		}
	})
}
