// Package fuzzcheck holds the test that runs every fuzz target of the module for a bounded time,
// so CI fuzzes each one on every run, not only its committed corpus.
package fuzzcheck
