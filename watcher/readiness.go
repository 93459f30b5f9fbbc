package watcher

// readyFirst is the order in which a failover tries standbys: the first
// ready one by priority, and a not-ready one of higher priority only when
// no ready one can be brought up. A parked standby with a dead machine
// would otherwise cost STANDBY_WAIT polls before the healthy one after it
// gets its turn.
func readyFirst(standbys []string, pickable, ready func(string) bool) string {
	first := ""
	for _, sb := range standbys {
		if !pickable(sb) {
			continue
		}
		if ready(sb) {
			return sb
		}
		if first == "" {
			first = sb
		}
	}
	return first
}
