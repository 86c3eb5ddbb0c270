package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadOrCreateKey loads the PKCS #8 private key at path, creating it with
// generate the first time. A key that others can read is refused rather than
// used: it may already be known to them.
func loadOrCreateKey(path string, generate func() (crypto.Signer, error)) (crypto.Signer, error) {
	b, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, werr := createKey(path, generate)
		if werr == nil {
			return key, nil
		}
		if !errors.Is(werr, fs.ErrExist) {
			return nil, werr
		}
		// Another process created it first: use theirs.
		b, err = readPrivate(path)
	}
	if err != nil {
		return nil, err
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PEM PRIVATE KEY block", path)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: data after the key", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: %T is not a signing key", path, key)
	}
	return signer, nil
}

func createKey(path string, generate func() (crypto.Signer, error)) (crypto.Signer, error) {
	key, err := generate()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileExclusive(path, data, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// readPrivate reads a file that must be readable by its owner only.
func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the key; run chmod 600 on it", path, perm)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFileExclusive creates path with data, or fails with an error matching
// fs.ErrExist if it exists. A reader, or the file system after a power cut,
// sees the whole file or none: the data is written and synced under a
// temporary name, then linked into place, which never replaces a file.
func writeFileExclusive(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp makes the file 0600, so a key is never readable by
	// others, not even for a moment.
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
