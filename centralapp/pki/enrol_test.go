package pki

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
)

// enrolServer is the smallest central that a real collector can enrol with
// and renew against: one token, for member "acme".
func enrolServer(t *testing.T, ca *CA, tokenHash []byte) string {
	t.Helper()
	issue := func(w http.ResponseWriter, r *http.Request, collector, member string) {
		var in forward.EnrolRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if collector == "" {
			if !TokenMatches(in.Token, tokenHash) {
				http.Error(w, "invalid token", http.StatusForbidden)
				return
			}
			collector, member = ulid.Make().String(), "acme"
		}
		chain, _, _, err := ca.SignCSR([]byte(in.CSR), collector, member, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(forward.EnrolResponse{
			Certificate: string(chain),
			CA:          string(ca.CAPEM()),
			CollectorID: collector,
			MemberID:    member,
			UpdateKey:   ca.UpdatePublicKey(),
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+forward.EnrolPath, func(w http.ResponseWriter, r *http.Request) {
		issue(w, r, "", "")
	})
	mux.HandleFunc("POST "+forward.RenewPath, func(w http.ResponseWriter, r *http.Request) {
		collector, member, err := ca.VerifyRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		issue(w, r, collector, member)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		collector, member, err := ca.VerifyRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, collector+"/"+member)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: mustServerTLS(t, ca), ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "https://" + ln.Addr().String()
}

// TestCollectorEnrols runs the collector's own enrolment, pinning the CA by
// the fingerprint `members add` prints, then renewal and an mTLS request.
func TestCollectorEnrols(t *testing.T) {
	ca := newCA(t, Options{})
	token, hash := NewToken()
	url := enrolServer(t, ca, hash)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	state := t.TempDir()
	if _, err := forward.Enrol(ctx, url, "wrong-token", state, forward.EnrolOptions{CASHA256: ca.CAFingerprint()}); err == nil ||
		!strings.Contains(err.Error(), "403") {
		t.Fatalf("enrol with a wrong token: %v", err)
	}
	other := newCA(t, Options{})
	if _, err := forward.Enrol(ctx, url, token, state, forward.EnrolOptions{CASHA256: other.CAFingerprint()}); err == nil {
		t.Fatal("enrol pinning another CA: no error")
	}

	id, err := forward.Enrol(ctx, url, token, state, forward.EnrolOptions{CASHA256: ca.CAFingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	if id.MemberID != "acme" || !ca.UpdatePublicKey().Equal(ed25519Key(id.UpdateKey)) {
		t.Fatalf("identity %+v", id)
	}
	creds, err := forward.LoadCredentials(state)
	if err != nil {
		t.Fatal(err)
	}
	whoami := func() (int, string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: creds.TLSConfig()}
		defer tr.CloseIdleConnections()
		status, body, err := get(&http.Client{Transport: tr, Timeout: 10 * time.Second}, url+"/whoami")
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	if status, body := whoami(); status != http.StatusOK || body != id.CollectorID+"/acme" {
		t.Fatalf("whoami: %d %q", status, body)
	}

	oldSerial := FormatSerial(creds.Leaf().SerialNumber)
	if err := creds.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if FormatSerial(creds.Leaf().SerialNumber) == oldSerial {
		t.Fatal("renewal kept the old certificate")
	}
	if status, body := whoami(); status != http.StatusOK || body != id.CollectorID+"/acme" {
		t.Fatalf("whoami after renewal: %d %q", status, body)
	}

	// Revoking the current certificate shuts the collector out, renewal
	// included.
	if err := ca.Revoke(FormatSerial(creds.Leaf().SerialNumber)); err != nil {
		t.Fatal(err)
	}
	if err := creds.Renew(ctx); err == nil {
		t.Fatal("renewal with a revoked certificate: no error")
	}
}
