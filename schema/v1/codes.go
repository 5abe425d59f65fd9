package v1

// Diagnostic codes reported while loading manifests. They are stable: tools
// and tests match on them, while messages may be reworded between versions.
// docs/manifests.md lists when each is reported.
const (
	// CodeReadError: a file or directory could not be read.
	CodeReadError = "read-error"
	// CodeYAMLSyntax: the YAML is not well formed.
	CodeYAMLSyntax = "yaml-syntax"
	// CodeDuplicateKey: a mapping holds the same key twice.
	CodeDuplicateKey = "duplicate-key"
	// CodeInvalidKey: a mapping key is not a scalar, so it cannot become a
	// JSON object key.
	CodeInvalidKey = "invalid-key"
	// CodeTooComplex: aliases expand a document beyond the loader's budget.
	CodeTooComplex = "yaml-too-complex"
	// CodeNotAnObject: a document is not a mapping.
	CodeNotAnObject = "not-an-object"
	// CodeAPIVersion: apiVersion is not [APIVersion].
	CodeAPIVersion = "api-version"
	// CodeUnknownKind: kind is not one of the five kinds.
	CodeUnknownKind = "unknown-kind"
	// CodeUnknownField: a field that the kind does not have.
	CodeUnknownField = "unknown-field"
	// CodeMissingField: a required field is absent, null or empty.
	CodeMissingField = "missing-field"
	// CodeWrongType: a field's value has the wrong YAML type.
	CodeWrongType = "wrong-type"
	// CodeInvalidName: metadata.name is not a valid name for its kind.
	CodeInvalidName = "invalid-name"
	// CodeInvalidUUID: metadata.uuid or an owner is not a lower-case UUID.
	CodeInvalidUUID = "invalid-uuid"
	// CodeInvalidAddress: an IP address is malformed or not allowed.
	CodeInvalidAddress = "invalid-address"
	// CodeDuplicateAddress: a firewall lists the same address twice.
	CodeDuplicateAddress = "duplicate-address"
	// CodeInvalidCIDR: a CIDR is malformed or has host bits set.
	CodeInvalidCIDR = "invalid-cidr"
	// CodeInvalidTagName: a tag name in spec.tags is not valid.
	CodeInvalidTagName = "invalid-tag-name"
	// CodeInvalidTagValue: a tag value is a list, a map, null or a
	// non-integer number.
	CodeInvalidTagValue = "invalid-tag-value"
	// CodeDuplicateValue: a Tag declares the same value twice.
	CodeDuplicateValue = "duplicate-value"
	// CodeRuleSyntax: the rule text does not parse (fwrule syntax, lexical
	// or end-of-input errors).
	CodeRuleSyntax = "rule-syntax"
	// CodeRuleInvalid: the rule text parses but a value or a rule-level
	// check fails.
	CodeRuleInvalid = "rule-invalid"
	// CodeRuleScope: a Rule has both spec.owner and spec.global, or
	// neither.
	CodeRuleScope = "rule-scope"
	// CodeRuleDisabled (warning): a Rule has spec.enabled: false.
	CodeRuleDisabled = "rule-disabled"
	// CodeAgentURL: spec.agent.url is not an https:// URL with a host.
	CodeAgentURL = "invalid-agent-url"
	// CodeAgentMode: spec.agent.mode is unknown or contradicts the URL.
	CodeAgentMode = "invalid-agent-mode"
	// CodeFingerprint: spec.agent.fingerprint is malformed.
	CodeFingerprint = "invalid-fingerprint"
	// CodeInvalidValue: a field holds a value outside its allowed set.
	CodeInvalidValue = "invalid-value"
	// CodeInvalidPort: a port is outside 1–65535, or present or absent
	// where the protocol says otherwise.
	CodeInvalidPort = "invalid-port"
	// CodeInvalidICMP: an ICMP type or code is outside 0–255, or given for
	// a protocol other than icmp or icmp6.
	CodeInvalidICMP = "invalid-icmp"
	// CodeAddressFamily: addresses of a test case do not match each other
	// or the ICMP version.
	CodeAddressFamily = "address-family"
)
