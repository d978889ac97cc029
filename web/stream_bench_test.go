package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"fleetfeed/feed"
	"fleetfeed/translators"
	"fleetfeed/web"
)

// The streaming benchmark connects benchClients websocket clients, all
// following the public stream, and ingests benchRate events a second
// (benchRate*benchTick per tick, one Pipeline.Ingest call each) for
// benchSeconds: every event reaches every client. It reports the time
// from the start of the ingest call to the client's having read the
// message (p50-ms, p99-ms), the server's processor time per message
// delivered, and its memory per connection (heap, and heap plus goroutine
// stacks; idle after subscribing, and busy at the end of the run), next
// to two ceilings measured in the same run: the same clients fed by a
// bare websocket server (no store, no pipeline, no JSON: bare-*), and the
// hub's fan-out to as many plain goroutines (hub-*).
//
// The clients run in a child process (this test binary, running
// TestStreamBenchClients), so that the server's memory is measured alone;
// they share the machine's processors with the server, so on a small
// machine the figures are those of a saturated one.
const (
	benchClients = 1000
	benchRate    = 1000 // events per second
	benchTick    = 10 * time.Millisecond
	benchSeconds = 3
)

// benchEnv names the environment variables that make TestStreamBenchClients
// the clients of a benchmark.
const (
	benchEnvURL     = "FLEETFEED_BENCH_WS_URL"
	benchEnvClients = "FLEETFEED_BENCH_WS_CLIENTS"
)

// clientReport is what the child process prints when told to stop.
type clientReport struct {
	Messages int64   `json:"messages"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	Errors   int     `json:"errors"`
	// cpu is the server's processor time while it delivered.
	cpu time.Duration
}

// TestStreamBenchClients is not a test: it is the clients of the streaming
// benchmarks, run by them in a child process.
func TestStreamBenchClients(t *testing.T) {
	url := os.Getenv(benchEnvURL)
	if url == "" {
		t.Skip("the clients of the streaming benchmarks; run by them")
	}
	n, _ := strconv.Atoi(os.Getenv(benchEnvClients))
	conns := make([]*websocket.Conn, n)
	d := &websocket.Dialer{HandshakeTimeout: time.Minute, ReadBufferSize: 1024, WriteBufferSize: 512}
	for i := range conns {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(2)
		}
		c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","stream":"public"}`))
		if _, m, err := c.ReadMessage(); err != nil || !bytes.Contains(m, []byte(`"subscribed"`)) {
			fmt.Fprintf(os.Stderr, "subscribe: %v %s\n", err, m)
			os.Exit(2)
		}
		conns[i] = c
	}
	lat := make([][]int32, n) // µs, per client
	errs := make([]int, n)
	var wg sync.WaitGroup
	counts := make([]atomic.Int64, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Read the frames off the socket directly: the clients share
			// the machine with the server, so they should cost little.
			r := bufio.NewReaderSize(c.NetConn(), 64<<10)
			key := []byte(`"sent_ns":`)
			var hdr [8]byte
			var payload []byte
			for {
				if _, err := io.ReadFull(r, hdr[:2]); err != nil {
					return
				}
				n := int(hdr[1] & 0x7f)
				switch n {
				case 126:
					if _, err := io.ReadFull(r, hdr[:2]); err != nil {
						return
					}
					n = int(hdr[0])<<8 | int(hdr[1])
				case 127:
					if _, err := io.ReadFull(r, hdr[:8]); err != nil {
						return
					}
					n = 0
					for _, x := range hdr {
						n = n<<8 | int(x)
					}
				}
				if cap(payload) < n {
					payload = make([]byte, n)
				}
				m := payload[:n]
				if _, err := io.ReadFull(r, m); err != nil {
					return
				}
				now := time.Now().UnixNano()
				j := bytes.Index(m, key)
				if j < 0 {
					continue
				}
				m = m[j+len(key):]
				k := 0
				for k < len(m) && m[k] >= '0' && m[k] <= '9' {
					k++
				}
				sent, err := strconv.ParseInt(string(m[:k]), 10, 64)
				if err != nil {
					errs[i]++
					continue
				}
				lat[i] = append(lat[i], int32((now-sent)/1000))
				counts[i].Add(1)
			}
		}()
	}
	fmt.Println("ready")
	// The benchmark says how many messages each client must get, once it
	// has sent them all.
	var want int64
	if _, err := fmt.Fscan(os.Stdin, &want); err != nil {
		fmt.Fprintln(os.Stderr, "read the number of messages:", err)
		os.Exit(2)
	}
	// A client that never gets them all (dropped, or fed by a server that
	// drops) is reported with what it got.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		all := true
		for i := range counts {
			if counts[i].Load() < want {
				all = false
				break
			}
		}
		if all {
			break
		}
	}
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	var all []int32
	var rep clientReport
	for i := range lat {
		all = append(all, lat[i]...)
		rep.Errors += errs[i]
	}
	slices.Sort(all)
	rep.Messages = int64(len(all))
	if len(all) > 0 {
		q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1000 }
		rep.P50, rep.P99, rep.Max = q(0.50), q(0.99), q(1)
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	os.Exit(0)
}

// benchClientsProcess starts the clients and waits until all follow the
// stream; stop tells them how many messages each is to get, waits until
// they have them (or for long enough), ends them and returns their report.
func benchClientsProcess(b *testing.B, url string) (stop func(messages int) clientReport) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStreamBenchClients$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), benchEnvURL+"="+url, benchEnvClients+"="+strconv.Itoa(benchClients))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		b.Fatalf("bench clients: %q %v", line, err)
	}
	return func(messages int) clientReport {
		fmt.Fprintln(stdin, messages)
		stdin.Close()
		var rep clientReport
		rest, _ := io.ReadAll(out)
		for _, line := range strings.Split(string(rest), "\n") {
			if strings.HasPrefix(line, "{") {
				json.Unmarshal([]byte(line), &rep)
			}
		}
		cmd.Wait()
		return rep
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// heapAndStack is the memory in use after a collection.
func heapAndStack() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse
}

// emitAtRate calls emit with benchRate*benchTick/time.Second events' worth
// each tick for benchSeconds, and returns the events emitted per second.
func emitAtRate(b *testing.B, emit func(n, first int)) float64 {
	perTick := benchRate * int(benchTick) / int(time.Second)
	ticks := benchSeconds * int(time.Second/benchTick)
	tick := time.NewTicker(benchTick)
	defer tick.Stop()
	start := time.Now()
	for i := range ticks {
		<-tick.C
		emit(perTick, i*perTick)
	}
	return float64(ticks*perTick) / time.Since(start).Seconds()
}

// BenchmarkStreamDelivery: ingest to delivery on 1,000 websocket clients,
// beside the bare broadcast ceiling, and the server's memory per
// connection.
func BenchmarkStreamDelivery(b *testing.B) {
	if testing.Short() {
		b.Skip("starts 1,000 websocket clients")
	}
	for i := 0; i < b.N; i++ {
		hub50, hub99 := runHubChannels(b)
		ceiling := runBareBroadcast(b)
		got := runPipelineStream(b)
		b.ReportMetric(hub50, "hub-p50-ms")
		b.ReportMetric(hub99, "hub-p99-ms")
		b.ReportMetric(ceiling.P50, "bare-p50-ms")
		b.ReportMetric(ceiling.P99, "bare-p99-ms")
		b.ReportMetric(got.rep.P50, "p50-ms")
		b.ReportMetric(got.rep.P99, "p99-ms")
		b.ReportMetric(got.rep.Max, "max-ms")
		b.ReportMetric(got.rate, "events/s")
		b.ReportMetric(got.ingest[len(got.ingest)/2].Seconds()*1000, "ingest-p50-ms")
		b.ReportMetric(got.cpu.Seconds()/float64(got.rep.Messages)*1e9, "server-cpu-ns/msg")
		b.ReportMetric(ceiling.cpu.Seconds()/float64(ceiling.Messages)*1e9, "bare-cpu-ns/msg")
		b.ReportMetric(got.heapPerConn/1024, "heap-KB/conn")
		b.ReportMetric(got.totalPerConn/1024, "heap+stack-KB/conn")
		b.ReportMetric(got.busyHeapPerConn/1024, "busy-heap-KB/conn")
		b.ReportMetric(got.busyPerConn/1024, "busy-heap+stack-KB/conn")
		want := int64(got.events) * benchClients
		b.ReportMetric(100*float64(got.rep.Messages)/float64(want), "delivered-%")
		b.ReportMetric(0, "ns/op")
		b.Logf("pipeline: p50 %.1f ms, p99 %.1f ms, max %.1f ms at %.0f events/s (ingest calls p50 %v, p99 %v), %.0f ns of processor per message; "+
			"per connection %.1f KB heap, %.1f KB with stacks, %.1f KB (%.1f KB) at the end of the run; "+
			"bare: p50 %.1f ms, p99 %.1f ms, %.0f ns per message; hub: p50 %.2f ms, p99 %.2f ms",
			got.rep.P50, got.rep.P99, got.rep.Max, got.rate, got.ingest[len(got.ingest)/2], got.ingest[len(got.ingest)*99/100],
			got.cpu.Seconds()/float64(got.rep.Messages)*1e9,
			got.heapPerConn/1024, got.totalPerConn/1024, got.busyHeapPerConn/1024, got.busyPerConn/1024,
			ceiling.P50, ceiling.P99, ceiling.cpu.Seconds()/float64(ceiling.Messages)*1e9, hub50, hub99)
		if got.rep.Messages != want || got.rep.Errors > 0 || ceiling.Messages != want {
			// Clients dropped as too slow: the machine could not keep up.
			b.Logf("delivered %d (bare %d) of %d messages, %d errors", got.rep.Messages, ceiling.Messages, want, got.rep.Errors)
		}
	}
}

type pipelineResult struct {
	ingest                       []time.Duration
	rep                          clientReport
	rate                         float64
	events                       int
	heapPerConn, totalPerConn    float64
	busyHeapPerConn, busyPerConn float64
	// cpu is the server's processor time while it delivered.
	cpu time.Duration
}

// cpuTime is the processor time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runPipelineStream(b *testing.B) pipelineResult {
	db := feed.NewDB(filepath.Join(b.TempDir(), "fleetfeed.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := web.NewServer(&feed.Pipeline{DB: db, Hub: feed.NewHub()})
	s.Logger = quietLogger()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	heap0, stack0 := heapAndStack()
	stop := benchClientsProcess(b, "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/v1/streaming")
	heap1, stack1 := heapAndStack()
	if n := s.StreamClients(); n != benchClients {
		b.Fatalf("%d clients connected, want %d", n, benchClients)
	}

	var res pipelineResult
	ctx := context.Background()
	cpu0 := cpuTime()
	res.rate = emitAtRate(b, func(n, first int) {
		evs := make([]translators.Event, n)
		sent := time.Now().UnixNano()
		for j := range evs {
			k := first + j
			evs[j] = translators.Event{
				ID: "bench:" + strconv.Itoa(k), Source: translators.SourceEvents, Node: "web" + strconv.Itoa(k%20),
				Post: &translators.Draft{
					Text: "Benchmark event " + strconv.Itoa(k), Tags: []string{"bench", "info"}, Severity: translators.SeverityInfo,
					Details: map[string]any{"sent_ns": sent},
				},
			}
		}
		t0 := time.Now()
		if _, err := s.Pipeline.Ingest(ctx, evs); err != nil {
			b.Fatal(err)
		}
		res.ingest = append(res.ingest, time.Since(t0))
		res.events += n
	})
	c1 := cpuTime()
	heap2, stack2 := heapAndStack() // with the clients still connected
	gc := cpuTime() - c1
	res.rep = stop(res.events)
	res.cpu = cpuTime() - cpu0 - gc
	slices.Sort(res.ingest)
	res.busyHeapPerConn = float64(int64(heap2)-int64(heap0)) / benchClients
	res.busyPerConn = float64(int64(heap2+stack2)-int64(heap0+stack0)) / benchClients
	res.heapPerConn = float64(int64(heap1)-int64(heap0)) / benchClients
	res.totalPerConn = float64(int64(heap1+stack1)-int64(heap0+stack0)) / benchClients
	return res
}

// runBareBroadcast sends the same number of messages at the same rate to
// the same clients from a server that only upgrades and writes: no store,
// no pipeline, no hub, no JSON; one goroutine per connection writes the
// websocket frames waiting for it in one system call. It is the ceiling
// the pipeline is measured against.
func runBareBroadcast(b *testing.B) clientReport {
	var mu sync.Mutex
	var queues []chan []byte
	var wg sync.WaitGroup
	up := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"event":"subscribed","stream":"public"}`)); err != nil {
			return
		}
		q := make(chan []byte, 4096)
		mu.Lock()
		queues = append(queues, q)
		mu.Unlock()
		wg.Add(1)
		defer wg.Done()
		go func() { // the reader: notices the client leave
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		nc := c.NetConn()
		buf := make([]byte, 0, 64<<10)
		for m := range q {
			buf = appendFrame(buf[:0], m)
			for len(q) > 0 && len(buf) < 32<<10 {
				buf = appendFrame(buf, <-q)
			}
			if _, err := nc.Write(buf); err != nil {
				return
			}
		}
	}))
	defer ts.Close()
	stop := benchClientsProcess(b, "ws"+strings.TrimPrefix(ts.URL, "http"))
	events := 0
	cpu0 := cpuTime()
	emitAtRate(b, func(n, first int) {
		events += n
		sent := time.Now().UnixNano()
		for j := range n {
			msg := []byte(fmt.Sprintf(`{"event":"update","stream":"public","id":"%d","payload":{"text":"Benchmark event %d","details":{"sent_ns":%d}}}`, first+j, first+j, sent))
			mu.Lock()
			for _, q := range queues {
				select {
				case q <- msg:
				default: // the client is too slow even for this: its count shows it
				}
			}
			mu.Unlock()
		}
	})
	rep := stop(events)
	rep.cpu = cpuTime() - cpu0
	mu.Lock()
	for _, q := range queues {
		close(q)
	}
	mu.Unlock()
	wg.Wait()
	return rep
}

// appendFrame appends an unmasked websocket text frame (a server's).
func appendFrame(b, payload []byte) []byte {
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x81, byte(n))
	case n < 1<<16:
		b = append(b, 0x81, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, payload...)
}

// runHubChannels publishes at the same rate to benchClients hub
// subscriptions read by plain goroutines, in process: the cost of the
// fan-out alone.
func runHubChannels(b *testing.B) (p50, p99 float64) {
	hub := feed.NewHub()
	lat := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	subs := make([]*feed.Subscription, benchClients)
	for i := range subs {
		subs[i] = hub.Subscribe(256)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range subs[i].C() {
				lat[i] = append(lat[i], time.Since(n.Post.LastAt))
			}
		}()
	}
	emitAtRate(b, func(n, first int) {
		sent := time.Now()
		for j := range n {
			hub.Publish(feed.Notice{Kind: feed.NoticeUpdate, Post: &feed.Post{ID: int64(first + j), LastAt: sent}})
		}
	})
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()
	var all []time.Duration
	for i := range lat {
		all = append(all, lat[i]...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return 0, 0
	}
	ms := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	return ms(0.50), ms(0.99)
}
