// Package examples is `loadrig examples NAME`: it prints a ready-to-use
// file embedded from profiles/examples — a GitHub Actions workflow that
// gates on a profile and a diff, and a Kubernetes Indexed Job that shards
// one load test over pods and merges the shards.
package examples
