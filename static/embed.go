// Package static embeds the stylesheet and the one script served under
// /static/. Every page works without JavaScript: poll.js only spares the
// person a button press while a phone call is answered.
package static

import "embed"

// FS holds idp.css and poll.js.
//
//go:embed *.css *.js
var FS embed.FS
