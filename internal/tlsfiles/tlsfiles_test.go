package tlsfiles_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"emqxgo/internal/testutil"
	"emqxgo/internal/tlsfiles"
)

func TestLoadCAPool(t *testing.T) {
	dir := t.TempDir()
	certs := testutil.WriteCerts(t, dir)
	ca, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(ca)
	if blk == nil {
		t.Fatal("CA file is not PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	pool, err := tlsfiles.LoadCAPool(certs.CAFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(certs.Pool) {
		t.Errorf("pool differs from the CA written")
	}

	// Added to a copy of base: base itself is left alone.
	base := x509.NewCertPool()
	pool, err = tlsfiles.LoadCAPool(certs.CAFile, base)
	if err != nil {
		t.Fatal(err)
	}
	if base.Equal(pool) || !pool.Equal(certs.Pool) {
		t.Errorf("base modified or certificate not added")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the CA does not verify itself through the pool: %v", err)
	}

	missing := filepath.Join(dir, "absent.pem")
	if _, err := tlsfiles.LoadCAPool(missing, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}

	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = tlsfiles.LoadCAPool(garbage, nil)
	if !errors.Is(err, tlsfiles.ErrNoCertificate) || err.Error() != garbage+": no PEM certificate" {
		t.Errorf("garbage: %v", err)
	}
	if _, err := tlsfiles.LoadCAPool(dir, nil); err == nil {
		t.Errorf("a folder was read as a CA file")
	}
}
