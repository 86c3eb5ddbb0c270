package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect/update"
)

func TestOpenCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca := openCA(t, dir, Options{CommonName: "Test CA"})

	cert := ca.Certificate()
	if !cert.IsCA || cert.Subject.CommonName != "Test CA" {
		t.Fatalf("CA certificate: IsCA %v, subject %q", cert.IsCA, cert.Subject)
	}
	if got := cert.NotAfter.Sub(cert.NotBefore); got < 10*365*24*time.Hour {
		t.Errorf("CA validity %v, want 10 years", got)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Errorf("CA does not verify as its own root: %v", err)
	}
	blk, _ := pem.Decode(ca.CAPEM())
	if blk == nil || string(blk.Bytes) != string(cert.Raw) {
		t.Fatal("CAPEM is not the CA certificate")
	}
	if fp := ca.CAFingerprint(); len(fp) != 64 || strings.ToLower(fp) != fp {
		t.Errorf("fingerprint %q: want 64 lower-case hex digits", fp)
	}

	for name, want := range map[string]os.FileMode{
		KeyFile: 0o600, UpdateKeyFile: 0o600, CertFile: 0o644, ".": 0o700,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %d entries, want 3 (no temporary files left)", len(entries))
	}

	again := openCA(t, dir, Options{CommonName: "ignored"})
	if again.CAFingerprint() != ca.CAFingerprint() {
		t.Error("reopening made a new CA")
	}
	if !again.UpdatePublicKey().Equal(ca.UpdatePublicKey()) {
		t.Error("reopening made a new update key")
	}
}

func TestOpenRefusesKeyReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	openCA(t, dir, Options{})
	for _, name := range []string{KeyFile, UpdateKeyFile} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.Chmod(path, 0o640); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(path, 0o600)
			_, err := Open(dir, Options{})
			if err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Fatalf("Open with a group-readable %s: %v", name, err)
			}
		})
	}
}

func TestOpenRecoversFromMissingCertificate(t *testing.T) {
	dir := t.TempDir()
	first := openCA(t, dir, Options{})
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	// As after a crash between writing the key and the certificate.
	second := openCA(t, dir, Options{})
	if !second.Certificate().PublicKey.(*ecdsa.PublicKey).Equal(first.Certificate().PublicKey) {
		t.Error("the new CA certificate is not for the existing key")
	}
}

func TestOpenRefusesBadState(t *testing.T) {
	other := t.TempDir()
	openCA(t, other, Options{})
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{"certificate of another key", func(dir string) error {
			b, err := os.ReadFile(filepath.Join(other, CertFile))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, CertFile), b, 0o644)
		}, "does not belong"},
		{"key without certificate file readable", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600)
		}, "no PEM PRIVATE KEY"},
		{"certificate garbage", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CertFile), []byte("junk"), 0o644)
		}, "no PEM CERTIFICATE"},
		{"missing key", func(dir string) error {
			return os.Remove(filepath.Join(dir, KeyFile))
		}, "is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			openCA(t, dir, Options{})
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenMakesNoKeyForExistingCertificate(t *testing.T) {
	dir := t.TempDir()
	openCA(t, dir, Options{})
	if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("Open without the CA key: no error")
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
		t.Fatalf("Open made a new CA key next to the old certificate: %v", err)
	}
}

func TestOpenConcurrentCreatesOneCA(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	fps := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ca, err := Open(dir, Options{})
			errs[i] = err
			if err == nil {
				fps[i] = ca.CAFingerprint()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if fps[i] != fps[0] {
			t.Fatalf("concurrent Open made different CAs: %v", fps)
		}
	}
}

func TestOpenRefusesExpiredCA(t *testing.T) {
	dir := t.TempDir()
	openCA(t, dir, Options{})
	_, err := Open(dir, Options{Now: func() time.Time { return time.Now().Add(11 * 365 * 24 * time.Hour) }})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Open of an expired CA: %v", err)
	}
}

func TestSignUpdate(t *testing.T) {
	ca := newCA(t, Options{})
	s, err := ca.SignUpdate(update.KindIndicators, 3, []byte("198.51.100.7\n"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := update.Verify(ca.UpdatePublicKey(), s)
	if err != nil {
		t.Fatal(err)
	}
	if env.Kind != update.KindIndicators || env.Version != 3 || string(env.Payload) != "198.51.100.7\n" {
		t.Errorf("envelope %+v", env)
	}
	if !ca.UpdateSigner().Public().(ed25519.PublicKey).Equal(ca.UpdatePublicKey()) {
		t.Error("UpdateSigner and UpdatePublicKey disagree")
	}
}
