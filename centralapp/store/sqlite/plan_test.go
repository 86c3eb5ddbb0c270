package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPlans pins the query plans the benchmarks' speed depends on: the
// aggregation reads only the covering time index, and member reads use the
// member index.
func TestPlans(t *testing.T) {
	s, err := Open(t.Context(), Options{Path: filepath.Join(t.TempDir(), "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"source activity", sourceActivitySQL, []any{0, 1}, "USING COVERING INDEX detections_last_seen"},
		{"source members", sourceMembersSQL + ",?)", []any{0, []byte("a"), []byte("b")}, "USING COVERING INDEX detections_last_seen"},
		{"member detections", "SELECT raw FROM detections WHERE member_id = ? AND last_seen >= ? AND last_seen < ? ORDER BY id LIMIT 10",
			[]any{"m", 0, 1}, "USING INDEX detections_member_last_seen"},
	} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, tc.want) {
			t.Errorf("%s: plan %q does not contain %q", tc.name, p, tc.want)
		}
	}
}
