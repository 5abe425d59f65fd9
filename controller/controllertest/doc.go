// Package controllertest runs a real controller for tests: [Repo] is a Git
// repository on disk the tests commit policies to, and [Env] runs the
// controller (Git source, loader, reconcile loop, status store, API) on it
// with loopback HTTPS agents from controller/fleet/fleettest, announces
// commits through the signed webhook and reads the API. It is for tests
// only: it is imported from _test files, never from the binaries, which
// hack/importcheck enforces.
package controllertest
