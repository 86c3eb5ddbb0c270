package egress

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Preview writes b as indented JSON: exactly the batch that would be sent,
// before compression, for `cyberalarm-collector egress --sample N`, so that
// a member's staff can read what leaves the site. Characters such as < and
// & are written as they are, not escaped, for reading.
func Preview(w io.Writer, b *detect.Batch) error {
	for i, d := range b.Detections {
		if !json.Valid(d) {
			return fmt.Errorf("egress preview: detection %d is not valid JSON", i)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return fmt.Errorf("egress preview: %w", err)
	}
	return nil
}

// Sample returns a copy of b with at most n detections and n summaries,
// the first of each; n <= 0 keeps them all. The slices are shared with b.
func Sample(b *detect.Batch, n int) *detect.Batch {
	s := *b
	if n > 0 {
		s.Detections = s.Detections[:min(n, len(s.Detections))]
		s.Summaries = s.Summaries[:min(n, len(s.Summaries))]
	}
	return &s
}
