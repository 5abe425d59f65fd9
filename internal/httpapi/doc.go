// Package httpapi holds the small HTTP helpers both binaries share: handlers
// that return errors ([Handler], [HTTPError]), one JSON writer, body limits,
// panic recovery and server timeouts. It owns no routes.
package httpapi
