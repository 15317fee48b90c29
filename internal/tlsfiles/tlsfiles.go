// Package tlsfiles reads the PEM files that TLS settings name. It is a leaf
// (standard library only) so that every user of a CA file (the MQTT
// listeners, the cluster RPC, the etcd and Kubernetes discovery clients)
// reads it the same way and reports it the same way.
package tlsfiles

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertificate is wrapped by LoadCAPool when a file holds no PEM
// certificate.
var ErrNoCertificate = errors.New("no PEM certificate")

// LoadCAPool returns a copy of base (a new pool when base is nil) with the
// PEM certificates of the file at path added. A file that cannot be read
// gives the error of os.ReadFile (errors.Is(err, fs.ErrNotExist) tells a
// missing file); a file without any certificate gives "<path>: no PEM
// certificate", wrapping ErrNoCertificate. Callers put the setting's name in
// front: "rpc.cacertfile: /etc/ca.pem: no PEM certificate".
func LoadCAPool(path string, base *x509.CertPool) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if base != nil {
		pool = base.Clone()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoCertificate)
	}
	return pool, nil
}
