package grpcdrv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "loadrig test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})
	tg := newTarget(t, grpcsrv.Options{ServerOptions: []grpc.ServerOption{grpc.Creds(creds)}})

	// Verified against the right root, descriptors by reflection over TLS.
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1}`, TLS: &tls.Config{RootCAs: pool}})
	if o := do(t, d, 2, nil)[1]; o.Err != metrics.OK {
		t.Errorf("verified TLS: %+v", o)
	}
	// Skipping verification works too.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1}`, TLS: &tls.Config{InsecureSkipVerify: true}})
	if o := do(t, d, 1, nil)[0]; o.Err != metrics.OK {
		t.Errorf("insecure TLS: %+v", o)
	}
	// An untrusted certificate is a tls error (descriptors from the .proto,
	// so the driver starts and measures).
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1}`, TLS: &tls.Config{},
		ProtoFiles: []string{"loadrig/v1/shop.proto"}, ImportPaths: []string{protoDir}})
	if o := do(t, d, 1, nil)[0]; o.Err != metrics.ErrTLS {
		t.Errorf("untrusted certificate: %+v, want tls", o)
	}
	// Plaintext against a TLS server fails (kind depends on how the server
	// hangs up), but never succeeds.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1}`,
		ProtoFiles: []string{"loadrig/v1/shop.proto"}, ImportPaths: []string{protoDir}})
	if o := do(t, d, 1, nil)[0]; o.Err == metrics.OK {
		t.Errorf("plaintext to a TLS server succeeded: %+v", o)
	}
}
