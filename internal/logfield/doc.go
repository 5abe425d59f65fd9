// Package logfield names the slog attribute keys fwgit uses, so that every
// component logs the same thing under the same key.
package logfield
