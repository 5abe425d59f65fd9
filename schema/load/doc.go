// Package load reads a policy repository from an fs.FS into fwgit/v1 objects.
// It decodes every YAML document strictly, keeps the file, line and column of
// every field, and collects every problem as a diagnostic rather than stopping
// at the first. It performs no I/O other than reading the fs.FS it is given.
package load
