package gql_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// TestGraphiQLOffline: the page names no absolute URL (it loads only from
// this server), every script and stylesheet keeps its integrity attribute,
// and the embedded files hash to it (gqlgen's pinned SRI values for
// graphiql 4.1.2 and react 18.2.0).
func TestGraphiQLOffline(t *testing.T) {
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.Dev = true })
	page := get(t, f.url+"/graphiql")
	if m := regexp.MustCompile(`(?i)(https?:|wss?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(page); m != "" {
		t.Fatalf("GraphiQL page names an absolute URL: %q", m)
	}
	tags := regexp.MustCompile(`(?s)(?:src|href)="([^"]+)"\s+integrity="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(tags) != 4 {
		t.Fatalf("want 4 assets with integrity attributes, found %d", len(tags))
	}
	for _, m := range tags {
		url, sri := html.UnescapeString(m[1]), html.UnescapeString(m[2])
		if !strings.HasPrefix(url, "/graphiql/assets/") {
			t.Fatalf("asset %q is not served by loadrig", url)
		}
		body := get(t, f.url+url)
		sum := sha256.Sum256([]byte(body))
		if got := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]); got != sri {
			t.Fatalf("%s hashes to %s, page says %s", url, got, sri)
		}
	}
	for _, lic := range []string{"LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"} {
		if !strings.Contains(get(t, f.url+"/graphiql/assets/"+lic), "MIT License") {
			t.Fatalf("%s missing", lic)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	return string(b)
}
