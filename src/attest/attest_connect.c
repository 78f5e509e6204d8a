/* attest_connect.c - RA-TLS: report_data binding of a certificate key, quote extraction, and the
 * --connect client. */
#include "attest/attest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int attest_ratls_report_data(const uint8_t *spki_der, size_t spki_len,
                             uint8_t out[ATTEST_REPORT_DATA_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned n = 0;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha512(), NULL) == 1 &&
	          EVP_DigestUpdate(md, ATTEST_RATLS_LABEL, strlen(ATTEST_RATLS_LABEL)) == 1 &&
	          EVP_DigestUpdate(md, spki_der, spki_len) == 1 &&
	          EVP_DigestFinal_ex(md, out, &n) == 1 && n == ATTEST_REPORT_DATA_LEN;
	EVP_MD_CTX_free(md);
	return ok ? PGS_OK : PGS_ERR;
}

int attest_ratls_report_data_for_key(EVP_PKEY *key, uint8_t out[ATTEST_REPORT_DATA_LEN])
{
	unsigned char *spki = NULL;
	int n = i2d_PUBKEY(key, &spki);
	int rc = n > 0 ? attest_ratls_report_data(spki, (size_t)n, out) : PGS_ERR;
	OPENSSL_free(spki);
	return rc;
}

/* An extension value is a DER OCTET STRING holding the bytes (dstack >= 0.5), or the bytes
 * themselves (older dstack). A raw quote starts 04 00 and so never parses as a covering
 * OCTET STRING. */
static uint8_t *ext_bytes(X509 *x, const char *oid, size_t *len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int idx = obj ? X509_get_ext_by_OBJ(x, obj, -1) : -1;
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return NULL;
	ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, idx));
	const unsigned char *p = ASN1_STRING_get0_data(os), *q = p;
	long n = ASN1_STRING_length(os);
	ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &q, n);
	if (inner && q == p + n) {
		p = ASN1_STRING_get0_data(inner);
		n = ASN1_STRING_length(inner);
	}
	uint8_t *out = pgs_xmalloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	ASN1_OCTET_STRING_free(inner);
	ERR_clear_error();
	return out;
}

int attest_ratls_from_cert(const uint8_t *der, size_t len, struct attest_peer *out, char *err,
                           size_t errlen)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	unsigned char *spki = NULL;
	int spki_len, rc = PGS_ERR;

	memset(out, 0, sizeof(*out));
	if (!x) {
		pgs_errf(err, errlen, "RA-TLS: the server certificate is not valid DER");
		goto out;
	}
	out->cert_der = pgs_xmalloc(len);
	memcpy(out->cert_der, der, len);
	out->cert_len = len;
	spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (spki_len <= 0 ||
	    attest_ratls_report_data(spki, (size_t)spki_len, out->expected_report_data) != PGS_OK) {
		pgs_errf(err, errlen, "RA-TLS: cannot encode the certificate's public key");
		goto out;
	}
	out->quote = ext_bytes(x, ATTEST_OID_RATLS_QUOTE, &out->quote_len);
	if (!out->quote) {
		pgs_errf(err, errlen, "RA-TLS: the certificate has no quote extension (%s)",
		         ATTEST_OID_RATLS_QUOTE);
		goto out;
	}
	out->event_log = (char *)ext_bytes(x, ATTEST_OID_RATLS_EVENT_LOG, &out->event_log_len);
	rc = PGS_OK;
out:
	OPENSSL_free(spki);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

void attest_peer_free(struct attest_peer *p)
{
	free(p->cert_der);
	free(p->quote);
	free(p->event_log);
	memset(p, 0, sizeof(*p));
}

/* ---- --connect ---------------------------------------------------------------------- */

static int split_hostport(const char *hp, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (!end || end[1] != ':')
			return PGS_ERR;
		snprintf(host, hostlen, "%.*s", (int)(end - hp - 1), hp + 1);
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon || colon == hp)
			return PGS_ERR;
		snprintf(host, hostlen, "%.*s", (int)(colon - hp), hp);
	}
	if (!colon[1] || strlen(colon + 1) >= portlen)
		return PGS_ERR;
	snprintf(port, portlen, "%s", colon + 1);
	return PGS_OK;
}

static int dial(const char *host, const char *port, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
	int gai = getaddrinfo(host, port, &hints, &ai), fd = -1;
	if (gai) {
		pgs_errf(err, errlen, "connect: cannot resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r < 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (poll(&pfd, 1, timeout_ms) == 1 &&
			    !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && soerr == 0)
				r = 0;
			else
				errno = soerr ? soerr : ETIMEDOUT;
		}
		if (r < 0) {
			pgs_errf(err, errlen, "connect: %s:%s: %s", host, port, strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		fcntl(fd, F_SETFL, fl);
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
		                     .tv_usec = (timeout_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	freeaddrinfo(ai);
	return fd;
}

int attest_connect_fetch(const char *hostport, int timeout_ms, struct attest_peer *out, char *err,
                         size_t errlen)
{
	static const uint8_t ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
	char host[256], port[16];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *peer = NULL;
	unsigned char *der = NULL;
	int fd = -1, rc = PGS_ERR, n;
	uint8_t answer;

	memset(out, 0, sizeof(*out));
	if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) != PGS_OK) {
		pgs_errf(err, errlen, "connect: '%s' is not HOST:PORT", hostport);
		return PGS_ERR;
	}
	if ((fd = dial(host, port, timeout_ms, err, errlen)) < 0)
		goto out;
	if (send(fd, ssl_request, sizeof(ssl_request), MSG_NOSIGNAL) !=
	        (ssize_t)sizeof(ssl_request) ||
	    recv(fd, &answer, 1, 0) != 1) {
		pgs_errf(err, errlen, "connect: no answer to the PostgreSQL SSLRequest");
		goto out;
	}
	if (answer != 'S') {
		pgs_errf(err, errlen, "connect: the server refused TLS (answered '%c')",
		         answer >= 0x20 && answer < 0x7f ? answer : '?');
		goto out;
	}
	/* The certificate is not judged by a CA: the quote inside it, bound to its key, is
	 * what is verified. The handshake proves the server holds that key. */
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		goto tls_fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (!(ssl = SSL_new(ctx)) || !SSL_set_fd(ssl, fd))
		goto tls_fail;
	struct in6_addr ip;
	if (inet_pton(AF_INET, host, &ip) != 1 && inet_pton(AF_INET6, host, &ip) != 1)
		SSL_set_tlsext_host_name(ssl, host); /* SNI carries names only */
	if (SSL_connect(ssl) != 1)
		goto tls_fail;
	peer = SSL_get1_peer_certificate(ssl);
	if (!peer || (n = i2d_X509(peer, &der)) <= 0) {
		pgs_errf(err, errlen, "connect: the server sent no certificate");
		goto out;
	}
	if (attest_ratls_from_cert(der, (size_t)n, out, err, errlen) != PGS_OK) {
		/* keep the certificate: the caller reports it has no usable quote */
		rc = 1;
		goto out;
	}
	SSL_shutdown(ssl);
	rc = PGS_OK;
	goto out;
tls_fail:
	pgs_errf(err, errlen, "connect: TLS handshake with %s failed", hostport);
out:
	OPENSSL_free(der);
	X509_free(peer);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	return rc;
}
