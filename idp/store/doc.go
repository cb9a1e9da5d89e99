// Package store holds the domain types of the identity provider and one small
// repository interface per aggregate. It knows nothing about gorm or SQL:
// backends live in sqlstore and prove themselves against storetest, so the
// rest of the server can be tested against any of them.
package store
