package scan

// Status of a finding against the previous scan.
const (
	FindingNew       = "new"
	FindingStillOpen = "still open"
	FindingFixed     = "fixed"
)

// Compare sets each current finding's status against the previous scan's
// findings and returns those the previous scan had that are gone. With
// no previous scan (prev nil) every finding is new.
func Compare(cur []Finding, prev []Finding) (status []string, fixed []Finding) {
	was := make(map[string]bool, len(prev))
	for i := range prev {
		was[prev[i].Key()] = true
	}
	is := make(map[string]bool, len(cur))
	status = make([]string, len(cur))
	for i := range cur {
		k := cur[i].Key()
		is[k] = true
		if was[k] {
			status[i] = FindingStillOpen
		} else {
			status[i] = FindingNew
		}
	}
	for i := range prev {
		if !is[prev[i].Key()] {
			fixed = append(fixed, prev[i])
		}
	}
	return status, fixed
}
