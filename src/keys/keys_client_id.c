/* keys_client_id.c - the client id of a certificate: SHA-256 of its SubjectPublicKeyInfo, in hex. */
#include "keys/keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

int keys_client_id_x509(const void *cert, char out[KEYS_CLIENT_ID_LEN + 1])
{
	/* The SPKI (not the whole certificate) so that a renewed certificate for the same
	 * key keeps its id. */
	unsigned char *der = NULL;
	uint8_t md[32];
	unsigned int mdlen = 0;
	X509_PUBKEY *pk = X509_get_X509_PUBKEY((const X509 *)cert);
	int n = pk ? i2d_X509_PUBKEY(pk, &der) : -1;
	if (n <= 0)
		return PGS_ERR;
	int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (ok != 1 || mdlen != 32)
		return PGS_ERR;
	pgs_hex(md, 32, out);
	return PGS_OK;
}

int keys_client_id_pem_file(const char *path, char out[KEYS_CLIENT_ID_LEN + 1], char *err,
                            size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		pgs_errf(err, errlen, "%s: %s", path, strerror(errno));
		return PGS_ERR;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		pgs_errf(err, errlen, "%s: not a PEM certificate", path);
		return PGS_ERR;
	}
	int rc = keys_client_id_x509(x, out);
	X509_free(x);
	if (rc != PGS_OK)
		pgs_errf(err, errlen, "%s: cannot read its public key", path);
	return rc;
}
