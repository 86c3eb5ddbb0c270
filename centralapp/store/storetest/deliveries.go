package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

func testDeliveries(t *testing.T, h *harness) {
	dsn := h.b.NewDSN(t)
	s1, err := h.b.Open(t, dsn)
	must(t, err)
	t.Cleanup(func() { s1.Close() })
	ctx := t.Context()
	addMember(t, s1, "acme")
	addMember(t, s1, "globex")
	for _, r := range []store.Report{
		{ID: "r-acme", MemberID: "acme", Kind: "weekly", PeriodStart: at(-7 * 24 * time.Hour), PeriodEnd: at(0), Created: at(0)},
		{ID: "r-globex", MemberID: "globex", Kind: "weekly", PeriodStart: at(-7 * 24 * time.Hour), PeriodEnd: at(0), Created: at(0)},
		{ID: "r-all", Kind: "weekly", PeriodStart: at(-7 * 24 * time.Hour), PeriodEnd: at(0), Created: at(0)},
	} {
		must(t, s1.PutReport(ctx, r))
	}
	// MemberID is the report's, whatever the caller wrote.
	attempts := []store.Delivery{
		{ReportID: "r-acme", MemberID: "globex", Recipient: "it@acme.example", Attempt: 1, Time: at(time.Minute),
			Outcome: store.DeliveryFailed, Error: "451 4.3.0 try again later"},
		{ReportID: "r-all", Recipient: "analysts@example.org", Attempt: 1, Time: at(2 * time.Minute), Outcome: store.DeliverySent},
		{ReportID: "r-acme", Recipient: "it@acme.example", Attempt: 2, Time: at(3 * time.Minute), Outcome: store.DeliverySent},
		{ReportID: "r-globex", Recipient: "office@globex.example", Attempt: 1, Time: at(4 * time.Minute),
			Outcome: store.DeliveryFailed, Error: "dial tcp 127.0.0.1:25: connection refused"},
	}
	for _, d := range attempts {
		must(t, s1.PutDelivery(ctx, d))
	}
	want := make([]store.Delivery, len(attempts))
	for i, d := range attempts {
		d.MemberID = map[string]string{"r-acme": "acme", "r-globex": "globex", "r-all": ""}[d.ReportID]
		want[i] = d
	}

	for _, d := range []store.Delivery{
		{ReportID: "r-acme", Attempt: 1, Time: at(0), Outcome: store.DeliverySent},
		{ReportID: "r-acme", Recipient: "a@b", Attempt: 0, Time: at(0), Outcome: store.DeliverySent},
		{ReportID: "r-acme", Recipient: "a@b", Attempt: 1, Outcome: store.DeliverySent},
		{ReportID: "r-acme", Recipient: "a@b", Attempt: 1, Time: at(0), Outcome: "bounced", Error: "x"},
		{ReportID: "r-acme", Recipient: "a@b", Attempt: 1, Time: at(0), Outcome: store.DeliverySent, Error: "x"},
		{ReportID: "r-acme", Recipient: "a@b", Attempt: 1, Time: at(0), Outcome: store.DeliveryFailed},
		{Recipient: "a@b", Attempt: 1, Time: at(0), Outcome: store.DeliverySent},
	} {
		wantErr(t, "bad delivery", s1.PutDelivery(ctx, d), store.ErrInvalid)
	}
	wantErr(t, "delivery of a missing report", s1.PutDelivery(ctx, store.Delivery{ReportID: "nope", Recipient: "a@b",
		Attempt: 1, Time: at(0), Outcome: store.DeliverySent}), store.ErrNotFound)

	// Stored deliveries outlive the store's process.
	must(t, s1.Close())
	s := h.openDSN(t, dsn)
	all, err := s.Deliveries(ctx, store.DeliveryFilter{})
	must(t, err)
	if len(all) != len(want) {
		t.Fatalf("%d deliveries stored, want %d", len(all), len(want))
	}
	for i := range all {
		if i > 0 && all[i].ID <= all[i-1].ID {
			t.Fatalf("deliveries not by rising ID: %d after %d", all[i].ID, all[i-1].ID)
		}
	}
	ignoreID := cmpopts.IgnoreFields(store.Delivery{}, "ID")
	for _, tc := range []struct {
		name string
		f    store.DeliveryFilter
		want []store.Delivery
	}{
		{"all", store.DeliveryFilter{}, want},
		{"one report", store.DeliveryFilter{ReportID: "r-acme"}, []store.Delivery{want[0], want[2]}},
		{"cross-member report", store.DeliveryFilter{ReportID: "r-all"}, want[1:2]},
		{"one member", store.DeliveryFilter{MemberID: "globex"}, want[3:]},
		{"since", store.DeliveryFilter{Since: at(3 * time.Minute)}, want[2:]},
		{"limit", store.DeliveryFilter{Limit: 2}, want[:2]},
		{"no match", store.DeliveryFilter{ReportID: "r-acme", MemberID: "globex"}, nil},
	} {
		got, err := s.Deliveries(ctx, tc.f)
		must(t, err)
		if diff := cmp.Diff(tc.want, got, ignoreID, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
