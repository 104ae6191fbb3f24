package testinstance

import "path/filepath"

// PIDs returns the pids of the cluster's running JVMs (for tests).
func PIDs(c *Cluster) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, n := range c.nodes {
		if n.proc != nil {
			pids = append(pids, n.proc.cmd.Process.Pid)
		}
	}
	if c.zk != nil && c.zk.proc != nil {
		pids = append(pids, c.zk.proc.cmd.Process.Pid)
	}
	return pids
}

// ProcessAlive exposes processAlive.
var ProcessAlive = processAlive

// Metadata exposes metadata: what the readiness checks ask a broker.
var Metadata = metadata

// JDKTool is the path of a tool (jcmd, ...) beside the java the cluster
// runs, symlinks resolved.
func JDKTool(c *Cluster, name string) string {
	java, err := filepath.EvalSymlinks(c.java)
	if err != nil {
		java = c.java
	}
	return filepath.Join(filepath.Dir(java), name)
}
