/*
 * tls — server TLS contexts and the self-signed certificate of the embedded
 * defaults.
 *
 * Contexts allow TLS 1.2 and 1.3 only, with OpenSSL's default secure cipher
 * list. A context is reference-counted (SSL_CTX_up_ref): on SIGHUP the server
 * loads a new one and hands it to net; running connections keep the old one
 * until they end.
 */
#include "core/net.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void openssl_reason(struct buf *err)
{
	unsigned long e = ERR_get_error();
	if (e) {
		char text[256];
		ERR_error_string_n(e, text, sizeof text);
		buf_printf(err, ": %s", text);
	}
	ERR_clear_error();
}

SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		buf_puts(err, "cannot create a TLS context");
		openssl_reason(err);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		buf_printf(err, "cannot load certificate %s", cert_path);
		openssl_reason(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		buf_printf(err, "cannot load private key %s", key_path);
		openssl_reason(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		buf_printf(err, "private key %s does not match certificate %s", key_path,
			   cert_path);
		openssl_reason(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void tls_ctx_free(SSL_CTX **ctx)
{
	if (*ctx)
		SSL_CTX_free(*ctx);
	*ctx = NULL;
}

static int mkdirs(const char *path, struct buf *err)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int r = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1;; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			char save = *p;
			*p = '\0';
			if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
				buf_printf(err, "cannot create directory %s: %s", dir,
					   strerror(errno));
				r = -1;
			}
			*p = save;
			if (save == '\0' || r < 0)
				break;
		}
	}
	free(dir);
	return r;
}

/* Writes PEM output of fn to path atomically (temp file, fsync, rename). */
static int write_pem(const char *path, mode_t mode, int (*fn)(FILE *f, void *obj), void *obj,
		     struct buf *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int r = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		buf_printf(err, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (!fn(f, obj) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		buf_printf(err, "cannot write %s", tmp);
		openssl_reason(err);
		fclose(f);
		unlink(tmp);
		goto out;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		buf_printf(err, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = 0;
out:
	free(tmp);
	return r;
}

static int pem_key(FILE *f, void *obj)
{
	return PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(FILE *f, void *obj)
{
	return PEM_write_X509(f, obj);
}

int tls_selfsigned_ensure(const char *cert_path, const char *key_path, const char *hostname,
			  struct buf *err)
{
	if (access(cert_path, F_OK) == 0)
		return 0;
	if (mkdirs(cert_path, err) < 0 || mkdirs(key_path, err) < 0)
		return -1;
	int r = -1;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	char *san = NULL;
	if (!key || !x)
		goto fail;
	X509_set_version(x, 2);
	unsigned char serial[16];
	random_bytes(serial, sizeof serial);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto fail;
	}
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"petrel self-signed", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	san = xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
	const char *exts[][2] = {{"subjectAltName", san},
				 {"basicConstraints", "critical,CA:FALSE"},
				 {"keyUsage", "critical,digitalSignature"},
				 {"extendedKeyUsage", "serverAuth"}};
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		if (!ext)
			goto fail;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256()))
		goto fail;
	if (write_pem(key_path, 0600, pem_key, key, err) < 0 ||
	    write_pem(cert_path, 0644, pem_cert, x, err) < 0)
		goto out;
	r = 0;
	goto out;
fail:
	buf_puts(err, "cannot create a self-signed certificate");
	openssl_reason(err);
out:
	free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}
