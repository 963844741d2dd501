package loadcmd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// statsTimeout bounds the /stats scrape after a run: a target that is not a
// loadrig server must not hold the command up.
const statsTimeout = 2 * time.Second

// maxStatsBytes caps how much of a /stats answer is read.
const maxStatsBytes = 4 << 20

// splitTarget returns a target URL's scheme and host[:port] (with any
// userinfo), read without url.Parse: the path may hold template actions.
// host is "" when target has no "scheme://".
func splitTarget(target string) (scheme, host string) {
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok {
		return "", ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme, rest
}

// scrapeStats reads scheme://host/stats of target and returns it when the
// target looks like a loadrig server: status 200 and a JSON object with a
// "redis_mode" key (every loadrig server's /stats carries one). Anything
// else — refused, timeout, 404, a redirect, not JSON, another server's
// stats — returns nil: the server section is optional and never an error.
// The request goes direct (no proxy), without following redirects.
func scrapeStats(ctx context.Context, target string, insecure bool, timeout time.Duration) map[string]any {
	scheme, host := splitTarget(target)
	if host == "" {
		return nil
	}
	tr := &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.ToLower(scheme)+"://"+host+"/stats", nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBytes))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	if !metrics.IsLoadrigStats(m) {
		return nil
	}
	return m
}
