package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// tlsFiles are the PEM files in the state directory. The CA certificate is
// what a client verifies the server with (nova's [vmware] ca_file, a
// requests/pyvmomi CA bundle), so the lab never needs insecure=true.
type tlsFiles struct {
	ca   string
	cert string
	key  string
}

// loadOrCreateTLS reuses the certificate of an earlier start when it is
// still valid for a while, so that clients configured with the CA file
// keep trusting a restarted server; otherwise it makes a new CA and a
// server certificate for 127.0.0.1, localhost and the address it listens
// on (a lab host's management address).
func loadOrCreateTLS(stateDir string, listenIP net.IP) (tlsFiles, *tls.Config, error) {
	files := tlsFiles{
		ca:   filepath.Join(stateDir, "vcenter-ca.pem"),
		cert: filepath.Join(stateDir, "vcenter-cert.pem"),
		key:  filepath.Join(stateDir, "vcenter-key.pem"),
	}
	if pair, err := tls.LoadX509KeyPair(files.cert, files.key); err == nil {
		if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil &&
			time.Until(leaf.NotAfter) > 30*24*time.Hour && leaf.VerifyHostname(listenIP.String()) == nil {
			if _, err := os.Stat(files.ca); err == nil {
				return files, &tls.Config{Certificates: []tls.Certificate{pair}}, nil
			}
		}
	}
	if err := createTLS(files, listenIP); err != nil {
		return files, nil, err
	}
	pair, err := tls.LoadX509KeyPair(files.cert, files.key)
	if err != nil {
		return files, nil, err
	}
	return files, &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func writePEM(path string, mode os.FileMode, blockType string, der []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: blockType, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func createTLS(files tlsFiles, listenIP net.IP) error {
	now := time.Now().Add(-time.Hour) // tolerate a little clock skew
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caSerial, err := serial()
	if err != nil {
		return err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "stackproof lab vCenter CA", Organization: []string{"stackproof lab"}},
		NotBefore:             now,
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafSerial, err := serial()
	if err != nil {
		return err
	}
	leafTemplate := &x509.Certificate{
		SerialNumber: leafSerial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"stackproof lab"}},
		NotBefore:    now,
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "vcenter"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, listenIP},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// The key first, private to the user running the lab; the CA key is
	// never written: a new pair is made when the certificate expires.
	if err := writePEM(files.key, 0o600, "PRIVATE KEY", keyDER); err != nil {
		return fmt.Errorf("%s: %v", files.key, err)
	}
	if err := writePEM(files.cert, 0o644, "CERTIFICATE", leafDER); err != nil {
		return fmt.Errorf("%s: %v", files.cert, err)
	}
	return writePEM(files.ca, 0o644, "CERTIFICATE", caDER)
}
