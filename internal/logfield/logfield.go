package logfield

// Attribute keys for log/slog.
const (
	Firewall    = "firewall"
	Revision    = "revision"
	Digest      = "digest"
	Generation  = "generation"
	Agent       = "agent"
	ReconcileID = "reconcile_id"
	Remote      = "remote"
	Method      = "method"
	Path        = "path"
	Status      = "status"
	Duration    = "duration"
	Error       = "error"
	Result      = "result"
	Table       = "table"
	Rules       = "rules"
	Elements    = "elements"
	Token       = "token_id"
)
