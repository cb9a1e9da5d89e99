package oidcop

import (
	"slices"
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

func TestParseClaimsACR(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		essential bool
		values    []string
		err       bool
	}{
		{"essential with values", `{"id_token":{"acr":{"essential":true,"values":["a","b"]}}}`, true, []string{"a", "b"}, false},
		{"a single value comes first", `{"id_token":{"acr":{"value":"x","values":["y"]}}}`, false, []string{"x", "y"}, false},
		{"acr requested with null", `{"id_token":{"acr":null}}`, false, nil, false},
		{"no acr at all", `{"userinfo":{"email":null}}`, false, nil, false},
		{"not JSON", `{nope`, false, nil, true},
		{"acr of the wrong type", `{"id_token":{"acr":{"values":"a"}}}`, false, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseClaimsACR(c.in)
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if got == nil {
				if c.values != nil || c.essential {
					t.Fatalf("got nil, want %v %v", c.essential, c.values)
				}
				return
			}
			if got.Essential != c.essential || !slices.Equal(got.Values, c.values) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}
