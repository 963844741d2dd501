// Package pgtest runs a throwaway Postgres cluster for tests: initdb in a
// temporary directory, postgres on a free 127.0.0.1 port with fsync off,
// one cluster per test package run (TestMain), a fresh database per test
// (NewDatabase), stopped and deleted at the end.
//
// The binaries are Debian's (/usr/lib/postgresql/<version>/bin, the
// `postgresql` package), else initdb/pg_ctl on PATH. initdb refuses to run
// as root, so under root every command runs as the `postgres` OS user
// (runuser) in a directory chowned to it. Where no binaries exist the tests
// that need Postgres skip with a loud message — unless CI=true, where the
// missing binaries fail the run (.ci/run installs the package).
//
// It uses the binaries only (createdb for databases), so the Postgres
// driver keeps its one home in package store.
package pgtest
