package v1

// Defaults of fields that may be left out. Every default is also stated on
// the field it belongs to and in docs/manifests.md.
const (
	// DefaultDirection is a test case's direction when it has none.
	DefaultDirection = DirectionIn
)

// Protocols a test case may name, as in the rule language.
const (
	ProtoTCP   = "tcp"
	ProtoUDP   = "udp"
	ProtoICMP  = "icmp"
	ProtoICMP6 = "icmp6"
	ProtoAH    = "ah"
	ProtoESP   = "esp"
)

// EffectiveMode returns the agent's mode with its default applied: the
// stated mode, else "push" (a URL is then required).
func (a Agent) EffectiveMode() string {
	if a.Mode == "" {
		return AgentPush
	}
	return a.Mode
}

// EffectiveAgentPort returns spec.agentPort, or [DefaultAgentPort] when it
// is not set.
func (s SettingsSpec) EffectiveAgentPort() int {
	if s.AgentPort == 0 {
		return DefaultAgentPort
	}
	return s.AgentPort
}

// EffectiveDirection returns the case's direction, or [DefaultDirection]
// when it is not set.
func (c TestCase) EffectiveDirection() string {
	if c.Direction == "" {
		return DefaultDirection
	}
	return c.Direction
}
