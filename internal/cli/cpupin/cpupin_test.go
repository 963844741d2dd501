package cpupin

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-2": {0, 1, 2}, "1,3-4,1": {1, 3, 4}} {
		got, err := Parse(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "2-1", "-1", "0-5000"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// TestPinChild pins a running child process and checks every one of its
// threads, and a thread it creates afterwards, is on CPU 0 only.
func TestPinChild(t *testing.T) {
	if !Supported {
		t.Skip("Linux only")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs to see a change")
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	time.Sleep(50 * time.Millisecond)
	if err := Pin(cmd.Process.Pid, []int{0}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		got, err := Affinity(tid)
		if err != nil || !slices.Equal(got, []int{0}) {
			t.Fatalf("thread %d affinity %v, %v; want [0]", tid, got, err)
		}
	}
}
