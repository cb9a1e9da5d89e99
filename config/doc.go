// Package config is the typed configuration of the identity provider.
//
// One YAML file (config/idp.example.yaml documents every key) is read with
// koanf, then every key may be overridden by an environment variable named
// IDP_ + the key upper-cased with dots turned into underscores
// (database.max_open_conns -> IDP_DATABASE_MAX_OPEN_CONNS). Because keys
// themselves contain underscores, environment variables are matched against
// the set of known keys derived from the struct tags instead of being split
// on "_"; unknown IDP_* variables are ignored, so tooling variables such as
// IDP_TEST_DATABASE_URL never collide. Secrets also accept <key>_file and
// IDP_<KEY>_FILE naming a file (a mounted Kubernetes or Docker secret) whose
// trimmed content is the value, so they need not sit in the environment.
//
// Two keys hold lists or maps of structs: assurance.levels and
// policy.clients. Their entries are not keys of their own (a client id may
// contain dots): in the file they are plain YAML, checked field by field
// with the same unknown-key rule, and their environment variables
// (IDP_ASSURANCE_LEVELS, IDP_POLICY_CLIENTS) hold the whole value as JSON.
//
// Load and Validate report every problem at once, each prefixed with the
// key, so an operator fixes a broken file in one round instead of one error
// per restart.
package config
