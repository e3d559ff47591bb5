// A Go net/http/fcgi app.
//
// With no argument it accepts on fd 0, the listening socket the process
// manager hands it (FCGI_LISTENSOCK_FILENO). With one argument it listens
// there itself, as an external server (FastCgiExternalServer,
// mod_proxy_fcgi): "unix:/path" (a stale socket at that path is removed
// first; anything else there is left alone and the listen fails) or
// "host:port" (TCP). Go's net/http/fcgi answers FCGI_GET_VALUES with
// FCGI_MPXS_CONNS=1 and serves the requests of one connection
// concurrently.
//
// A request's body is read whole first (net/http/fcgi stops reading its
// connection until the handler takes the body). Then the query string
// chooses the answer:
//
//	(default)  text/plain "go <pid> <path>\n"
//	sleep=MS   wait MS milliseconds (0 to 60000) first
//	echo       the request body back verbatim (application/octet-stream)
//	big=N      N bytes (0 to 100000000), byte i = 'a' + i % 26, written in
//	           64 KiB pieces, with Content-Length
//	conns      "accepted N open M\n": the connections accepted since the
//	           start and those open now
//
// Every answer has "X-Req: <path>?<query>" (only the path when there is
// no query), so that a client can tell which request an answer is for. A
// bad value answers 400.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxSleepMs = 60000
	maxBig     = 100000000
	bigPiece   = 64 * 1024
)

var accepted, open int64

// countingListener counts the connections it accepts; countedConn counts
// their close, once.
type countingListener struct {
	net.Listener
}

type countedConn struct {
	net.Conn
	once sync.Once
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	atomic.AddInt64(&accepted, 1)
	atomic.AddInt64(&open, 1)
	return &countedConn{Conn: c}, nil
}

func (c *countedConn) Close() error {
	c.once.Do(func() { atomic.AddInt64(&open, -1) })
	return c.Conn.Close()
}

func listen(addr string) (net.Listener, error) {
	path := strings.TrimPrefix(addr, "unix:")
	if path == addr {
		return net.Listen("tcp", addr)
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	return net.Listen("unix", path)
}

// number returns the query value name as an int in [0, max]; ok is false
// for a bad value, present false when it is absent.
func number(r *http.Request, name string, max int) (n int, present, ok bool) {
	q := r.URL.Query()
	if !q.Has(name) {
		return 0, false, true
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < 0 || n > max {
		return 0, true, false
	}
	return n, true, true
}

func writeBig(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	// 64 KiB is not a multiple of 26: each piece starts where the
	// previous one ended, at pattern[off%26]
	pattern := make([]byte, bigPiece+26)
	for i := range pattern {
		pattern[i] = 'a' + byte(i%26)
	}
	for off := 0; off < n; {
		k := bigPiece
		if n-off < k {
			k = n - off
		}
		if _, err := w.Write(pattern[off%26 : off%26+k]); err != nil {
			return
		}
		off += k
	}
}

func handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	req := r.URL.Path
	if r.URL.RawQuery != "" {
		req += "?" + r.URL.RawQuery
	}
	w.Header().Set("X-Req", req)
	ms, _, ok := number(r, "sleep", maxSleepMs)
	if !ok {
		http.Error(w, "bad sleep", http.StatusBadRequest)
		return
	}
	big, isBig, ok := number(r, "big", maxBig)
	if !ok {
		http.Error(w, "bad big", http.StatusBadRequest)
		return
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	q := r.URL.Query()
	switch {
	case q.Has("conns"):
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "accepted %d open %d\n",
			atomic.LoadInt64(&accepted), atomic.LoadInt64(&open))
	case q.Has("echo"):
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	case isBig:
		writeBig(w, big)
	default:
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "go %d %s\n", os.Getpid(), r.URL.Path)
	}
}

func main() {
	var l net.Listener
	var err error
	switch len(os.Args) {
	case 1:
		l, err = net.FileListener(os.NewFile(0, "listen socket (fd 0)"))
	case 2:
		l, err = listen(os.Args[1])
	default:
		fmt.Fprintln(os.Stderr, "usage: go_hello [unix:/path | host:port]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := fcgi.Serve(countingListener{l}, http.HandlerFunc(handle)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
