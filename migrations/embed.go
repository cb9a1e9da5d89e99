// Package migrations holds the SQL schema of the identity provider, one
// folder per dialect (postgres/, sqlite/), as goose-annotated files embedded
// in the binary. The dialects are kept apart instead of translated from one
// source because type and index details differ; migrations_test.go keeps
// their numbering in step.
package migrations

import "embed"

// FS holds postgres/NNNN_name.sql and sqlite/NNNN_name.sql. sqlstore hands
// fs.Sub(FS, dialect) to goose.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
