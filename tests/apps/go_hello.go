// A Go net/http/fcgi app: fcgi.Serve(nil, h) accepts on fd 0, the
// listening socket the process manager hands it (FCGI_LISTENSOCK_FILENO).
package main

import (
	"fmt"
	"net/http"
	"net/http/fcgi"
	"os"
)

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "go %d %s\n", os.Getpid(), r.URL.Path)
	})
	if err := fcgi.Serve(nil, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
