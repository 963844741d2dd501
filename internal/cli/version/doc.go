// Package version is `loadrig version`: which build this is (version,
// commit, date, Go toolchain, platform), so a result can be traced to the
// instrument that made it.
package version
