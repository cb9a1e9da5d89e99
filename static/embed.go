// Package static embeds the stylesheet (and any images) served under
// /static/. There is no JavaScript: every page works without it.
package static

import "embed"

// FS holds idp.css.
//
//go:embed *.css
var FS embed.FS
