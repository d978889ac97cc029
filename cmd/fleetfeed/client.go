package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// serverFlags are the flags of commands that talk to a fleetfeed server.
type serverFlags struct {
	Server string
	Token  string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Server, "server", envOr("FLEETFEED_SERVER", "http://127.0.0.1:8080"), "fleetfeed server URL (default $FLEETFEED_SERVER)")
	cmd.Flags().StringVar(&f.Token, "token", "", "ingest token (default $FLEETFEED_INGEST_TOKEN)")
}

func (f *serverFlags) token() string {
	if f.Token != "" {
		return f.Token
	}
	return os.Getenv("FLEETFEED_INGEST_TOKEN")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// postIngest sends one payload to the server's ingest endpoint and returns
// its answer, or an error that quotes the server's reason.
func postIngest(ctx context.Context, f serverFlags, source, query, contentType string, body []byte) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := strings.TrimRight(f.Server, "/") + "/api/v1/ingest/" + source
	if query != "" {
		url += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if t := f.token(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send to %s: %w", f.Server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	var ans map[string]any
	if err := json.Unmarshal(data, &ans); err != nil {
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if resp.StatusCode != http.StatusAccepted {
		return ans, fmt.Errorf("server refused (%s): %v", resp.Status, ans["error"])
	}
	return ans, nil
}
