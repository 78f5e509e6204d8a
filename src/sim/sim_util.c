/* sim_util.c - hex, files, hashes and HKDF helpers for the dstack simulator. */
#include "sim/sim.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

int sim_unhex(const char *hex, uint8_t **out, size_t *outlen)
{
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	size_t n = strlen(hex);
	if (n % 2)
		return PGS_ERR;
	uint8_t *b = pgs_xmalloc(n / 2);
	if (pgs_unhex(hex, n, b, n / 2) != PGS_OK) {
		free(b);
		return PGS_ERR;
	}
	*out = b;
	*outlen = n / 2;
	return PGS_OK;
}

int sim_read_file(const char *path, uint8_t **out, size_t *outlen)
{
	int rc = PGS_ERR;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PGS_ERR;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (1 << 24))
		goto out;
	size_t n = (size_t)sb.st_size, got = 0;
	buf = pgs_xmalloc(n + 1);
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = PGS_OK;
out:
	free(buf);
	close(fd);
	return rc;
}

int sim_write_file(const char *path, const void *buf, size_t len, unsigned mode)
{
	size_t plen = strlen(path);
	char *tmp = pgs_xmalloc(plen + 8);
	snprintf(tmp, plen + 8, "%s.tmpXX", path);
	int rc = PGS_ERR;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		goto out;
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			goto out;
		}
		done += (size_t)w;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	rc = PGS_OK;
out:
	free(tmp);
	return rc;
}

char *sim_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = pgs_xmalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

void sim_sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, a, alen) != 1 || (b && EVP_DigestUpdate(c, b, blen) != 1) ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		abort(); /* only on out-of-memory */
	EVP_MD_CTX_free(c);
}

void sim_sha384(const void *buf, size_t len, uint8_t out[48])
{
	SHA384(buf, len, out);
}

int sim_hkdf(const uint8_t *ikm, size_t ikmlen, const char *label, const uint8_t *ctx,
             size_t ctxlen, uint8_t *out, size_t outlen)
{
	static const char salt[] = "pgseal-dstack-sim v1";
	int rc = PGS_ERR;
	size_t llen = strlen(label);
	size_t ilen = llen + 1 + ctxlen;
	uint8_t *info = pgs_xmalloc(ilen);
	memcpy(info, label, llen);
	info[llen] = 0; /* separates the label from the context */
	if (ctxlen)
		memcpy(info + llen + 1, ctx, ctxlen);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!kctx)
		goto out;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof(salt) - 1),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ilen),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1)
		goto out;
	rc = PGS_OK;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	free(info);
	return rc;
}
