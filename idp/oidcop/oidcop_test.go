package oidcop

import (
	"testing"
)

func TestAddIssuer(t *testing.T) {
	const iss = "https://idp.example.eu"
	cases := []struct{ name, in, want string }{
		{"a code response gets iss in the query", "https://rp.example/cb?code=abc&state=s", "https://rp.example/cb?code=abc&iss=https%3A%2F%2Fidp.example.eu&state=s"},
		{"an error response gets iss too", "https://rp.example/cb?error=login_required&state=s", "https://rp.example/cb?error=login_required&iss=https%3A%2F%2Fidp.example.eu&state=s"},
		{"a fragment response gets iss in the fragment", "https://rp.example/cb#code=abc", "https://rp.example/cb#code=abc&iss=https%3A%2F%2Fidp.example.eu"},
		{"other redirects are left alone", "https://rp.example/bye?state=x", "https://rp.example/bye?state=x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := addIssuer(c.in, iss); got != c.want {
				t.Fatalf("got %s", got)
			}
		})
	}
}
