// Package agentconfig owns the settings of fwgit-agent: their names, defaults
// and validation, and the parsing of the env file (/etc/fwgit/agent.env) that
// holds them. It reads no files, flags or environment variables itself:
// cmd/fwgit-agent hands it the file's contents, the process environment and
// the flags, and [Load] merges them in that order of precedence. The API key
// it carries is a [Secret] that never prints.
package agentconfig
