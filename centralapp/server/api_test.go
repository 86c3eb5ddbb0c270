package server_test

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// TestMemberScoping asks every API endpoint, as every kind of account, for
// its own and other members' data.
func TestMemberScoping(t *testing.T) {
	e := newEnv(t, server.Config{})
	enc := newEncoder(t)
	for _, m := range []string{"m1", "m2"} {
		e.addMember(m)
		creds := e.enrol(m)
		b := batchOf(creds, 1, 2)
		if status, body := e.postBatch(e.collectorClient(creds), b.BatchID, enc.batch(t, b)); status != http.StatusOK {
			t.Fatalf("%s: %d %s", m, status, body)
		}
	}
	now := time.Now().UTC()
	if err := e.store.PutCampaigns(context.Background(), []store.Campaign{{
		ID: "c1", Source: netip.MustParseAddr("203.0.113.1"), Members: []string{"m1", "m2"}, Techniques: []string{"T1046"},
		Ports: []uint16{22}, Count: 40, FirstSeen: now.Add(-time.Minute), LastSeen: now, Updated: now,
	}}); err != nil {
		t.Fatal(err)
	}
	admin := e.account("admin", auth.RoleAdmin, "")
	analyst := e.account("analyst", auth.RoleAnalyst, "")
	m1 := e.account("m1-user", auth.RoleMember, "m1")
	c := e.client(nil)

	// members in each JSON line or health entry
	membersIn := func(path string, body []byte) string {
		var got []string
		if strings.HasPrefix(path, server.HealthPath) {
			var hs []struct {
				MemberID string `json:"member_id"`
			}
			if err := json.Unmarshal(body, &hs); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, h := range hs {
				got = append(got, h.MemberID)
			}
			return strings.Join(got, ",")
		}
		if strings.HasPrefix(path, server.MembersPath) {
			var ms []struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &ms); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, m := range ms {
				got = append(got, m.ID)
			}
			return strings.Join(got, ",")
		}
		for line := range bytes.Lines(body) {
			var d struct {
				Member *struct {
					ID string `json:"id"`
				} `json:"member"`
				Members []string `json:"members"`
			}
			if err := json.Unmarshal(line, &d); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if d.Member != nil {
				got = append(got, d.Member.ID)
			} else {
				got = append(got, "["+strings.Join(d.Members, " ")+"]")
			}
		}
		return strings.Join(got, ",")
	}

	for _, tc := range []struct {
		who, token, path string
		status           int
		members          string
	}{
		{"m1", m1, server.DetectionsPath, 200, "m1,m1"},
		{"m1", m1, server.DetectionsPath + "?member=m1", 200, "m1,m1"},
		{"m1", m1, server.DetectionsPath + "?member=m2", 403, ""},
		{"m1", m1, server.DetectionsPath + "?cross_member=true", 403, ""},
		{"m1", m1, server.DetectionsPath + "?member=m1&cross_member=1", 403, ""},
		{"m1", m1, server.HealthPath, 200, "m1"},
		{"m1", m1, server.HealthPath + "?member=m2", 403, ""},
		{"m1", m1, server.MembersPath, 403, ""},
		{"analyst", analyst, server.DetectionsPath, 200, "m1,m1,m2,m2"},
		{"analyst", analyst, server.DetectionsPath + "?member=m2", 200, "m2,m2"},
		{"analyst", analyst, server.DetectionsPath + "?cross_member=true", 200, "[m1 m2]"},
		{"analyst", analyst, server.DetectionsPath + "?since=" + now.Add(time.Hour).Format(time.RFC3339), 200, ""},
		{"analyst", analyst, server.DetectionsPath + "?since=yesterday", 400, ""},
		{"analyst", analyst, server.DetectionsPath + "?member=Not_A_Member", 400, ""},
		{"analyst", analyst, server.HealthPath, 200, "m1,m2"},
		{"analyst", analyst, server.MembersPath, 200, "m1,m2"},
		{"admin", admin, server.MembersPath, 200, "m1,m2"},
		{"admin", admin, server.HealthPath + "?member=m1", 200, "m1"},
		{"nobody", "", server.DetectionsPath, 401, ""},
		{"nobody", "", server.HealthPath, 401, ""},
		{"nobody", "", server.MembersPath, 401, ""},
		{"garbage", "not-a-token", server.DetectionsPath, 401, ""},
	} {
		status, body := e.get(c, tc.path, tc.token)
		if status != tc.status {
			t.Errorf("%s GET %s: %d %s, want %d", tc.who, tc.path, status, body, tc.status)
			continue
		}
		if status == http.StatusOK {
			if got := membersIn(tc.path, body); got != tc.members {
				t.Errorf("%s GET %s: members %q, want %q", tc.who, tc.path, got, tc.members)
			}
		}
	}

	// A collector certificate is no key to the analyst API, nor a bearer
	// token to the collector's.
	cc := e.collectorClient(e.enrol("m1"))
	if status, _ := e.get(cc, server.DetectionsPath, ""); status != http.StatusUnauthorized {
		t.Errorf("collector certificate on detections: %d, want 401", status)
	}
	if status, _ := e.get(c, server.UpdatesPath, analyst); status != http.StatusUnauthorized {
		t.Errorf("bearer token on updates: %d, want 401", status)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	// A hash in auth's documented format, at a work factor a test can
	// afford under the race detector.
	salt := []byte("0123456789abcdef")
	dk, err := pbkdf2.Key(sha256.New, "correct horse battery staple", salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	hash := "pbkdf2-sha256$1000$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(dk)
	if ok, err := auth.VerifyPassword(hash, "correct horse battery staple"); !ok || err != nil {
		t.Fatalf("test hash does not verify: %v", err)
	}
	if err := e.store.AddAccount(context.Background(), store.Account{
		Name: "alice", Role: string(auth.RoleMember), MemberID: "m1", PasswordHash: hash, Created: time.Now().UTC(),
	}); err != nil {
		t.Fatal(err)
	}
	c := e.client(nil)
	login := func(password string) (int, []byte) {
		body, _ := json.Marshal(auth.LoginRequest{Name: "alice", Password: password})
		req, _ := http.NewRequest(http.MethodPost, e.url+server.LoginPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return do(t, c, req)
	}
	if status, _ := login("wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", status)
	}
	status, body := login("correct horse battery staple")
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var lr auth.LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}
	if status, body := e.get(c, server.HealthPath, lr.Token); status != http.StatusOK {
		t.Fatalf("health with login token: %d %s", status, body)
	}
	if status, _ := e.get(c, server.HealthPath+"?member=m2", lr.Token); status != http.StatusForbidden {
		t.Fatalf("other member with login token: %d, want 403", status)
	}
}

func TestOps(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	creds := e.enrol("m1")
	enc := newEncoder(t)
	b := batchOf(creds, 1, 3)
	cc := e.collectorClient(creds)
	e.postBatch(cc, b.BatchID, enc.batch(t, b))
	e.postBatch(cc, b.BatchID, enc.batch(t, b))
	e.postBatch(cc, b.BatchID, []byte("junk"))
	c := e.client(nil)
	if status, body := e.get(c, "/healthz", ""); status != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", status, body)
	}
	status, body := e.get(c, "/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("metrics: %d", status)
	}
	for _, want := range []string{
		`cyberalarm_central_batches_total{reason="",result="accepted"} 1`,
		`cyberalarm_central_batches_total{reason="",result="duplicate"} 1`,
		`cyberalarm_central_batches_total{reason="zstd",result="rejected"} 1`,
		`cyberalarm_central_detections_ingested_total 3`,
		`cyberalarm_central_summaries_ingested_total 1`,
		`cyberalarm_central_ingest_seconds_count 2`,
		`cyberalarm_central_enrolments_total{result="ok"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// TLS 1.2 is refused, whatever the TLS configuration given.
	tr := &http.Transport{TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS12, RootCAs: e.ca.Pool()}}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Get(e.url + "/healthz"); err == nil {
		t.Fatal("TLS 1.2 accepted")
	}
}
