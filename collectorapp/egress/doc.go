// Package egress decides and shapes what leaves a member's site
// (DESIGN.md §1): detections through a metadata allowlist, per-minute flow
// summaries of suspicious external traffic that no rule matched, and keyed
// pseudonyms for internal addresses. README.md beside this file lists every
// field that leaves and why; Preview shows a member exactly what would be
// sent.
//
// In the collector's pipeline, after classification and the rules:
//
//	policy := &egress.Policy{Pseudonyms: ps, Internal: lists.Internal}
//	sum, _ := egress.NewSummarizer(egress.SummarizerConfig{})
//	...
//	if lists.Classify(ev, &st) == detect.Keep {
//		before := m.Stats().Matched
//		m.Match(ev, func(d *detect.Detection) {
//			batch.Detections = append(batch.Detections, policy.AppendDetection(nil, d))
//		})
//		sum.Add(ev, inputName, m.Stats().Matched > before)
//	}
//	...
//	batch.Summaries = append(batch.Summaries, sum.Flush(time.Now())...) // on a tick
package egress
