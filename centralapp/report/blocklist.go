package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// BlockListText writes the block list as plain text, one address a line,
// which firewalls load as an external list (FortiGate threat feeds, Palo
// Alto external dynamic lists, pfSense URL tables, OPNsense aliases). Lines
// that start with '#' are comments; the confidence and expiry of each
// address are in the comment line above it, since not every firewall
// accepts a comment after an address.
func (r *MemberReport) BlockListText() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# CyberAlarm block list for %s (%s)\n", oneLine(r.Member.Name), r.Member.ID)
	fmt.Fprintf(&b, "# Period: %s to %s; generated %s\n", r.Period.Start.UTC().Format(time.RFC3339),
		r.Period.End.UTC().Format(time.RFC3339), r.Generated.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# %d addresses. Remove each after its expiry; load the CSV for the details in columns.\n", len(r.BlockList))
	for _, e := range r.BlockList {
		fmt.Fprintf(&b, "# confidence %d, expires %s: %s\n%s\n", e.Confidence, e.Expires.UTC().Format(time.RFC3339),
			oneLine(strings.Join(e.Reasons, "; ")), e.Addr)
	}
	return b.Bytes()
}

// BlockListCSV writes the block list as CSV with a header row.
func (r *MemberReport) BlockListCSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"address", "confidence", "expires", "first_seen", "last_seen", "members", "reasons"}) //nolint:errcheck // a bytes.Buffer does not fail
	for _, e := range r.BlockList {
		w.Write([]string{e.Addr.String(), strconv.Itoa(e.Confidence), e.Expires.UTC().Format(time.RFC3339), //nolint:errcheck
			e.FirstSeen.UTC().Format(time.RFC3339), e.LastSeen.UTC().Format(time.RFC3339), strconv.Itoa(e.Members),
			strings.Join(e.Reasons, "; ")})
	}
	w.Flush()
	return b.Bytes()
}

// oneLine keeps a value from starting a new line of the list.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
