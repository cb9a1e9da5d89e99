// Package templates embeds the HTML pages of the identity provider.
//
// layout.html defines "layout", the page frame; every other file is one page
// that defines "title" and "content" and is parsed together with the layout
// (idp/web.Renderer). Pages contain no inline script or style: the
// Content-Security-Policy is default-src 'self', and every page must work
// without JavaScript. Texts come from idp/i18n message ids via {{.L.T "id"}}.
package templates

import (
	"embed"
	"html/template"
)

// Funcs are the helpers pages may call; every parser of the pages adds
// them.
var Funcs = template.FuncMap{
	// typed is what the person typed into field before the form was
	// refused ("" when nothing), so they correct it instead of typing it
	// again: {{or (typed .Typed "phone") .Phone}}.
	"typed": func(m any, field string) string {
		if t, ok := m.(map[string]string); ok {
			return t[field]
		}
		return ""
	},
}

// FS holds layout.html and the pages.
//
//go:embed *.html
var FS embed.FS

// Mail holds the templates of what the server sends by email:
// mail/layout.html.tmpl defines "layout" (the HTML frame, which calls
// "body" and "footer"); each message adds mail/<name>.html.tmpl and
// mail/<name>.txt.tmpl. They are not pages, so the web renderer never
// sees them.
//
//go:embed mail
var Mail embed.FS
