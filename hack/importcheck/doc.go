// Package importcheck holds no code: its tests enforce the layering of the
// module with `go list -deps` (schema imports nothing of ours but diag,
// controller and agent never import each other, the compile core is pure, the
// agent binary does not link go-git, only _test files import
// controller/controllertest) and that every package has a doc.go.
package importcheck
