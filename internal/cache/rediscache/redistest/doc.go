// Package redistest gives a test package its one Redis (COMMON.md: a real
// redis-server started on a free loopback port per test package, embedded
// miniredis only when no redis-server is installed). It is its own package,
// not part of rediscache, so that the servers' binaries do not link
// "testing".
package redistest
