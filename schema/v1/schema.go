package v1

import _ "embed"

//go:embed fwgit.schema.json
var jsonSchema []byte

// JSONSchemaID is the $id of [JSONSchema].
const JSONSchemaID = "https://github.com/fwgit/fwgit/raw/main/schema/v1/fwgit.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of a fwgit/v1 manifest
// document, for editors with a YAML language server and for other tools. It
// describes every kind; a test keeps it in sync with the Go types. The loader
// does not use it: it checks more (rule text, addresses, host bits) and
// reports positions. The returned slice is a fresh copy.
func JSONSchema() []byte {
	return append([]byte(nil), jsonSchema...)
}
