// Package web is the HTTP face of the provider: the echo server, our pages
// (login, errors, logged out), health and metrics, and op mounted last.
// Handlers are methods on structs with explicit dependencies; they return
// errors to one HTTPErrorHandler that renders a localized page.
package web
