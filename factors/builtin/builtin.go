// Package builtin lists the factors compiled into the server. Adding a
// factor is its folder under factors/ plus one line here; the order is the
// order the chooser offers them in (backup factors go last regardless).
package builtin

import (
	"github.com/eu-health-idp/idp/factors"
	"github.com/eu-health-idp/idp/factors/email"
	"github.com/eu-health-idp/idp/factors/recovery"
	"github.com/eu-health-idp/idp/factors/sms"
	"github.com/eu-health-idp/idp/factors/totp"
	"github.com/eu-health-idp/idp/factors/voice"
)

// Registrations are every built-in factor, for factors.NewRegistry.
var Registrations = []factors.Registration{
	{ID: "totp", New: totp.New},
	{ID: "email", New: email.New},
	{ID: "sms", New: sms.New},
	{ID: "voice", New: voice.New},
	{ID: "recovery", New: recovery.New},
}
