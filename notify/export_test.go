package notify

import "crypto/x509"

// TrustRoots makes an SMTP mailer verify server certificates against pool, so tests can run a
// TLS server with their own certificate.
func TrustRoots(m Mailer, pool *x509.CertPool) { m.(*SMTPMailer).rootCAs = pool }
