// A Go net/http/fcgi app.
//
// With no argument, fcgi.Serve(nil, h) accepts on fd 0, the listening
// socket the process manager hands it (FCGI_LISTENSOCK_FILENO). With one
// argument it listens there itself, as an external server
// (FastCgiExternalServer, mod_proxy_fcgi): "unix:/path" (a stale socket
// at that path is removed first; anything else there is left alone and
// the listen fails) or "host:port" (TCP).
//
// Every request answers "go <pid> <path>\n". ?sleep=MS (0 to 60000)
// waits MS milliseconds before answering; a bad value answers 400.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"strconv"
	"strings"
	"time"
)

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

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			if s := r.URL.Query().Get("sleep"); s != "" {
				ms, err := strconv.Atoi(s)
				if err != nil || ms < 0 || ms > 60000 {
					http.Error(w, "bad sleep", http.StatusBadRequest)
					return
				}
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "go %d %s\n", os.Getpid(), r.URL.Path)
	})
	var l net.Listener
	switch len(os.Args) {
	case 1:
		// fd 0
	case 2:
		var err error
		if l, err = listen(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: go_hello [unix:/path | host:port]")
		os.Exit(2)
	}
	if err := fcgi.Serve(l, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
