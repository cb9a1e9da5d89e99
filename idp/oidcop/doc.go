// Package oidcop adapts our store to zitadel/oidc's op.Storage and adds what
// op leaves to the implementer: single-use codes and refresh-token rotation
// with reuse detection in the database, acr/amr/auth_time on every token
// (refreshed ones too), the claims parameter, per-client signing algorithms,
// keys encrypted at rest and cached, and a discovery document that lists
// acr_values_supported.
package oidcop
