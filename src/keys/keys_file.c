/* keys_file.c - safe reads (permission checks, size caps) and atomic 0600 writes of key files. */
#include "keys/keys_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

bool keys_file_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 || errno != ENOENT;
}

int keys_file_read(const char *path, size_t max, bool secret, uint8_t **data, size_t *len,
                   char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int rc = PGS_ERR;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	*data = NULL;
	*len = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		pgs_errf(err, errlen, "%s: %s", path, strerror(errno));
		return PGS_ERR;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pgs_errf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		pgs_errf(err, errlen, "%s: refusing a group- or world-writable file (chmod 600 it)",
		         path);
		goto out;
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		pgs_errf(err, errlen,
		         "%s: refusing a secret readable by group or others (chmod 600 it)", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		pgs_errf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	buf = secret ? crypto_secure_alloc((size_t)st.st_size + 1)
	             : pgs_xmalloc((size_t)st.st_size + 1);
	while (got <= (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pgs_errf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)st.st_size) {
		pgs_errf(err, errlen, "%s: changed while being read", path);
		goto out;
	}
	*data = buf;
	*len = got;
	buf = NULL;
	rc = PGS_OK;
out:
	if (buf) {
		if (secret)
			crypto_secure_free(buf);
		else
			free(buf);
	}
	close(fd);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char *copy = pgs_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = PGS_ERR;
	if (fd >= 0) {
		rc = fsync(fd) == 0 ? PGS_OK : PGS_ERR;
		close(fd);
	}
	free(copy);
	return rc;
}

int keys_file_write(const char *path, const uint8_t *data, size_t len, bool no_replace, char *err,
                    size_t errlen)
{
	size_t n = strlen(path) + 32;
	char *tmp = pgs_xmalloc(n);
	int fd = -1, rc = PGS_ERR;
	bool created = false;
	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	(void)unlink(tmp); /* a leftover of a crashed run of this pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		pgs_errf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	created = true;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			pgs_errf(err, errlen, "%s: write: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		pgs_errf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		pgs_errf(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (no_replace) {
		/* link() fails with EEXIST instead of replacing: an existing blob is never lost */
		if (link(tmp, path) != 0) {
			int e = errno;
			if (e == EEXIST) {
				pgs_errf(err, errlen,
				         "%s: already exists (refusing to overwrite it)", path);
				goto out;
			}
			/* no hard links on this file system: claim the name with O_EXCL, then
			 * rename over our own empty placeholder */
			int pfd =
			    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (pfd < 0) {
				pgs_errf(err, errlen, "%s: %s", path,
				         errno == EEXIST
				             ? "already exists (refusing to overwrite it)"
				             : strerror(errno));
				goto out;
			}
			close(pfd);
			if (rename(tmp, path) != 0) {
				pgs_errf(err, errlen, "%s: rename: %s", path, strerror(errno));
				(void)unlink(path);
				goto out;
			}
		}
	} else if (rename(tmp, path) != 0) {
		pgs_errf(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto out;
	} else {
		created = false;
	}
	if (fsync_dir_of(path) != PGS_OK) {
		pgs_errf(err, errlen, "%s: fsync of its directory failed", path);
		goto out;
	}
	rc = PGS_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		(void)unlink(tmp);
	free(tmp);
	return rc;
}
