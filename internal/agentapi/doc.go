// Package agentapi defines the versioned JSON messages between the controller
// and fwgit-agent (push mode under /api/v1 on the agent, pull mode under
// /api/v1/agents on the controller). Both sides import it; neither imports the
// other. It holds types and constants only.
package agentapi
