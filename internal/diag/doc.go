// Package diag holds the diagnostics that validation reports about a policy
// repository: a position (file, line, column), a severity, a stable code and a
// message. It renders a [List] as compiler-style text, as GitHub Actions
// annotations and as JSON.
//
// diag performs no I/O of its own beyond writing to the [io.Writer] it is given,
// and it never logs.
package diag
