/* net_tls.c - OpenSSL contexts for the client-facing (server) and upstream (client) TLS hops. */
#include "net/net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

const char *net_tls_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(buf, len, "no OpenSSL error queued");
		return buf;
	}
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static void ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
}

/* ALPN as PostgreSQL 17 does it: "postgresql" is chosen when the client offers it; a client
 * that offers only other protocols is refused (no_application_protocol), one that offers none
 * goes on (classic SSLRequest clients; direct TLS then requires it, conn_startup.c). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	static const unsigned char want[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};
	unsigned char *sel = NULL;
	if (SSL_select_next_proto(&sel, outlen, want, sizeof(want), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

bool net_tls_alpn_postgresql(SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 10 && memcmp(p, "postgresql", 10) == 0;
}

/* The part shared by both server contexts: mTLS (client_tls.ca_file) and no session cache. */
static int server_ctx_finish(SSL_CTX *ctx, const struct cfg_client_tls *cfg, char *err,
                             size_t errlen)
{
	char eb[256];
	if (cfg->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
			pgs_errf(err, errlen, "client_tls.ca_file %s: %s", cfg->ca_file,
			         net_tls_error(eb, sizeof(eb)));
			return PGS_ERR;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_verify_depth(ctx, 8);
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	/* session resumption across workers is not worth the shared state */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return PGS_OK;
}

/* The client-facing context, with the certificate and key from the files of the section
 * or, when cert is given, from memory (RA-TLS). */
static SSL_CTX *server_ctx_new(const struct cfg_client_tls *cfg, X509 *cert, EVP_PKEY *key,
                               char *err, size_t errlen)
{
	char eb[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		pgs_errf(err, errlen, "SSL_CTX_new: %s", net_tls_error(eb, sizeof(eb)));
		return NULL;
	}
	ctx_common(ctx);
	if (cert) {
		if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			pgs_errf(err, errlen, "client_tls: the in-memory certificate/key: %s",
			         net_tls_error(eb, sizeof(eb)));
			goto fail;
		}
	} else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		pgs_errf(err, errlen, "client_tls.cert_file %s: %s", cfg->cert_file,
		         net_tls_error(eb, sizeof(eb)));
		goto fail;
	} else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
	           SSL_CTX_check_private_key(ctx) != 1) {
		pgs_errf(err, errlen, "client_tls.key_file %s: %s", cfg->key_file,
		         net_tls_error(eb, sizeof(eb)));
		goto fail;
	}
	if (server_ctx_finish(ctx, cfg, err, errlen) != PGS_OK)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *net_tls_server_ctx(const struct cfg_client_tls *cfg, char *err, size_t errlen)
{
	return server_ctx_new(cfg, NULL, NULL, err, errlen);
}

SSL_CTX *net_tls_server_ctx_mem(const struct cfg_client_tls *cfg, X509 *cert, EVP_PKEY *key,
                                char *err, size_t errlen)
{
	return server_ctx_new(cfg, cert, key, err, errlen);
}

SSL_CTX *net_tls_client_ctx(const struct cfg_upstream *cfg, char *err, size_t errlen)
{
	char eb[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		pgs_errf(err, errlen, "SSL_CTX_new: %s", net_tls_error(eb, sizeof(eb)));
		return NULL;
	}
	ctx_common(ctx);
	if (cfg->ca_file && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
		pgs_errf(err, errlen, "upstream.ca_file %s: %s", cfg->ca_file,
		         net_tls_error(eb, sizeof(eb)));
		goto fail;
	}
	if (cfg->cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			pgs_errf(err, errlen, "upstream.cert_file/key_file: %s",
			         net_tls_error(eb, sizeof(eb)));
			goto fail;
		}
	}
	if (cfg->tls == CFG_TLS_VERIFY_CA || cfg->tls == CFG_TLS_VERIFY_FULL)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static bool is_ip_literal(const char *h)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

int net_tls_client_prepare(SSL *ssl, const struct cfg_upstream *cfg)
{
	const char *name = cfg->server_name ? cfg->server_name : cfg->host;
	bool ip = is_ip_literal(name);
	if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1)
		return PGS_ERR;
	if (cfg->tls == CFG_TLS_VERIFY_FULL) {
		X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
		if (ip) {
			if (X509_VERIFY_PARAM_set1_ip_asc(p, name) != 1)
				return PGS_ERR;
		} else {
			X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (X509_VERIFY_PARAM_set1_host(p, name, 0) != 1)
				return PGS_ERR;
		}
	}
	return PGS_OK;
}

int net_tls_peer_id(SSL *ssl, struct net_peer_id *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *cert = SSL_get1_peer_certificate(ssl);
	memset(out, 0, sizeof(*out));
	if (!cert)
		return PGS_ERR;
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio) {
		X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
		int n = BIO_read(bio, out->subject, (int)sizeof(out->subject) - 1);
		out->subject[n > 0 ? n : 0] = 0;
		BIO_free(bio);
	}
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
		for (unsigned int i = 0; i < mdlen && i < 32; i++)
			snprintf(out->fingerprint + 2 * i, 3, "%02x", md[i]);
	}
	X509_free(cert);
	return PGS_OK;
}
