package static

import (
	"io/fs"
	"regexp"
	"testing"
)

func TestStylesheetIsEmbeddedAndSelfContained(t *testing.T) {
	css, err := fs.ReadFile(FS, "idp.css")
	if err != nil {
		t.Fatalf("idp.css not embedded: %v", err)
	}
	if len(css) < 100 {
		t.Fatalf("idp.css is only %d bytes", len(css))
	}
	// The CSP is default-src 'self': no web fonts, CDNs or remote images.
	if m := regexp.MustCompile(`(?i)@import|url\(\s*['"]?(https?:)?//`).Find(css); m != nil {
		t.Errorf("idp.css loads an external resource: %q", m)
	}
}
