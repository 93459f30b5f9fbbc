package agent

// MaxNameBytes bounds a node name, in bytes. Jenkins sets no limit, but a
// name is part of every URL the watchdog sends and of every log line and
// metric label about the node: WATCHDOG_PAIRS refuses a longer one, and the
// Jenkins adapter leaves out of a snapshot any computer whose name is
// longer, since it cannot be a watched node.
const MaxNameBytes = 256
