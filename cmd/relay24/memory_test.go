package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssKB reads a process's resident memory.
func rssKB(tb testing.TB, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// BenchmarkMemory measures the real binary's resident memory idle (installed,
// a channel connected) and with 2 000 event streams open.
func BenchmarkMemory(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	for b.Loop() {
		r := newRig(b)
		ctx := context.Background()
		cmd := r.start()
		session := r.install(ctx)
		time.Sleep(3 * time.Second) // let the first sync and the connect settle
		idle := rssKB(b, cmd.Process.Pid)

		const streams = 2000
		tr := &http.Transport{MaxIdleConnsPerHost: streams, MaxConnsPerHost: 0}
		client := &http.Client{Transport: tr}
		cctx, cancel := context.WithCancel(ctx)
		var bodies []interface{ Close() error }
		for i := 0; i < streams; i++ {
			req, _ := http.NewRequestWithContext(cctx, "GET", r.public+"/api/v1/events?session="+session, nil)
			res, err := client.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("stream %d: %v %v", i, err, res)
			}
			line, _ := bufio.NewReader(res.Body).ReadString('\n')
			if !strings.HasPrefix(line, "retry:") && !strings.HasPrefix(line, "event:") {
				b.Fatalf("stream %d began %q", i, line)
			}
			bodies = append(bodies, res.Body)
		}
		time.Sleep(2 * time.Second)
		open := rssKB(b, cmd.Process.Pid)
		cancel()
		for _, body := range bodies {
			body.Close()
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.ReportMetric(float64(idle)/1024, "idle-MB")
		b.ReportMetric(float64(open)/1024, "2000-streams-MB")
	}
}
