package forwardtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBatchChecks posts batches by hand to check that the receiver is as
// strict as central must be.
func TestBatchChecks(t *testing.T) {
	r, err := forwardtest.New(forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	id, err := forward.Enrol(t.Context(), r.URL(), r.Token("m1", time.Hour), dir, forward.EnrolOptions{CASHA256: r.CAFingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := forward.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: c.TLSConfig()}
	defer tr.CloseIdleConnections()
	anon := &http.Transport{TLSClientConfig: c.TLSConfig()}
	anon.TLSClientConfig.GetClientCertificate = nil
	defer anon.CloseIdleConnections()

	enc, _ := zstd.NewWriter(nil)
	defer enc.Close()
	const ulid = "01JDQ0000000000000000000AA"
	batch := func(member, extra string) []byte {
		js := `{"batch_id":"` + ulid + `","collector_id":"` + id.CollectorID + `","member_id":"` + member + `","seq":1,` +
			`"created":"2026-11-27T10:00:00Z","detections":[{"rule":{"id":"x"}}],"summaries":[]` + extra + `}`
		return enc.EncodeAll([]byte(js), nil)
	}
	post := func(rt http.RoundTripper, body []byte, key, encoding string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.URL()+forward.BatchesPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", encoding)
		req.Header.Set("Idempotency-Key", key)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for name, tc := range map[string]struct {
		rt       http.RoundTripper
		body     []byte
		key, enc string
		status   int
		msg      string
	}{
		"no client cert":  {anon, batch("m1", ""), ulid, "zstd", 401, "client certificate"},
		"unknown field":   {tr, batch("m1", `,"raw":"line"`), ulid, "zstd", 400, "unknown field"},
		"key mismatch":    {tr, batch("m1", ""), "01JDQ0000000000000000000BB", "zstd", 400, "Idempotency-Key"},
		"not compressed":  {tr, []byte("{}"), ulid, "identity", 415, "zstd"},
		"other member":    {tr, batch("m2", ""), ulid, "zstd", 403, "another collector or member"},
		"garbage payload": {tr, enc.EncodeAll([]byte(`{"batch_id":`), nil), ulid, "zstd", 400, "batch"},
	} {
		status, msg := post(tc.rt, tc.body, tc.key, tc.enc)
		if status != tc.status || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %q, want %d %q", name, status, msg, tc.status, tc.msg)
		}
	}
	if len(r.Batches()) != 0 {
		t.Fatalf("stored %d bad batches", len(r.Batches()))
	}

	for i, want := range []bool{false, true} {
		status, msg := post(tr, batch("m1", ""), ulid, "zstd")
		var ans struct{ Duplicate bool }
		if status != 200 || json.Unmarshal([]byte(msg), &ans) != nil || ans.Duplicate != want {
			t.Errorf("post %d: %d %s, want duplicate=%v", i, status, msg, want)
		}
	}
	if got := r.Batches(); len(got) != 1 || got[0].Batch.BatchID != ulid || len(got[0].Batch.Detections) != 1 {
		t.Errorf("stored %+v", got)
	}
}
