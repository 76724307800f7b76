/*
 * tls.c - the server SSL_CTX (SPEC 11).
 *
 * Everything that decides the security of a handshake is set here
 * explicitly after SSL_CTX_new, so a system openssl.cnf (which may lower
 * MinProtocol, widen CipherString or add options) changes nothing:
 * protocol range, TLS 1.2 cipher list, TLS 1.3 suites, groups, options
 * (all cleared first), security level, early data, renegotiation.
 *
 * Threat model: the peer is hostile from its first byte.  Only ECDHE key
 * exchange with AEAD ciphers is offered; renegotiation and compression are
 * off; early data is refused (no replayable requests).  Session tickets are
 * sealed with keys that exist only in memory of the master and the
 * workers; a context keeps the current and the previous key, and a key
 * that is replaced is wiped before its memory is released.
 *
 * Ticket key layout (CHAN_TICKET_KEY_LEN = 80 bytes): key name (16), HMAC
 * key (32), AES-256 key (32).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "secret.h"
#include "tls.h"
#include "util.h"

#define TLS_CIPHERS_12	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES_13	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS	"X25519:P-256:P-384"
#define TLS_SID_CTX	"bulwark"
#define TLS_KEY_MAX	((size_t)64 * 1024)	/* private key file size bound */
#define TLS_CERT_MAX	((size_t)1024 * 1024)	/* certificate chain file */
#define TLS_VERIFY_DEPTH 5
#define TLS_TICKET_LIFETIME 7200	/* seconds: current + previous hour */

#define TLS_TK_NAME	16
#define TLS_TK_HMAC	32
#define TLS_TK_AES	32

_Static_assert(TLS_TK_NAME + TLS_TK_HMAC + TLS_TK_AES == CHAN_TICKET_KEY_LEN,
    "ticket key layout");

/*
 * Per-context state, hung on the SSL_CTX as ex_data and released with it.
 * keys holds secrets: wiped on replacement and on free.
 */
struct tls_state {
	char			**hostnames;
	size_t			 nhostnames;
	struct chan_ticket_keys	 keys;
	bool			 have_keys;
};

static int	 tls_ctx_idx = -1;
static int	 tls_ssl_idx = -1;
static char	 tls_errbuf[256];

static void
tls_state_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct tls_state *st = ptr;
	size_t		 i;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (st == NULL)
		return;
	bw_wipe(&st->keys, sizeof(st->keys));
	for (i = 0; i < st->nhostnames; i++)
		free(st->hostnames[i]);
	free(st->hostnames);
	free(st);
}

static int
tls_indexes(void)
{
	if (tls_ctx_idx == -1)
		tls_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    tls_state_free);
	if (tls_ssl_idx == -1)
		tls_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return tls_ctx_idx == -1 || tls_ssl_idx == -1 ? -1 : 0;
}

const char *
tls_error(void)
{
	unsigned long	 e;
	const char	*r;

	e = ERR_peek_last_error();
	ERR_clear_error();
	if (e == 0)
		return "unknown TLS error";
	r = ERR_reason_error_string(e);
	return r != NULL ? r : "unknown TLS error";
}

static const char *
tls_err(const char *what)
{
	(void)snprintf(tls_errbuf, sizeof(tls_errbuf), "%s: %s", what,
	    tls_error());
	return tls_errbuf;
}

static struct tls_state *
tls_state(const SSL_CTX *ctx)
{
	return SSL_CTX_get_ex_data(ctx, tls_ctx_idx);
}

static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_state *st = arg;
	const char	*name;
	size_t		 i;

	(void)alert;
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL || st->nhostnames == 0)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < st->nhostnames; i++)
		if (strcasecmp(name, st->hostnames[i]) == 0)
			return SSL_TLSEXT_ERR_OK;
	SSL_set_ex_data(ssl, tls_ssl_idx, st);
	return SSL_TLSEXT_ERR_OK;
}

bool
tls_sni_mismatch(const SSL *ssl)
{
	return tls_ssl_idx != -1 && SSL_get_ex_data(ssl, tls_ssl_idx) != NULL;
}

static int
tls_ticket_mac(EVP_MAC_CTX *hctx, const unsigned char *key)
{
	OSSL_PARAM	 params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)key, TLS_TK_HMAC);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/*
 * Encrypt with the current key.  Decrypt with the key whose name the
 * ticket carries: the current one (1), the previous one (2: resume and
 * issue a fresh ticket under the current key), or none (0: full
 * handshake).
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char name[16],
    unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	struct tls_state	*st = tls_state(SSL_get_SSL_CTX(ssl));
	const unsigned char	*key;
	int			 ret;

	if (st == NULL || !st->have_keys)
		return 0;
	if (enc) {
		key = st->keys.current;
		memcpy(name, key, TLS_TK_NAME);
		if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1)
			return -1;
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
		    key + TLS_TK_NAME + TLS_TK_HMAC, iv) != 1 ||
		    tls_ticket_mac(hctx, key + TLS_TK_NAME) == -1)
			return -1;
		return 1;
	}
	if (memcmp(name, st->keys.current, TLS_TK_NAME) == 0) {
		key = st->keys.current;
		ret = 1;
	} else if (st->keys.have_previous &&
	    memcmp(name, st->keys.previous, TLS_TK_NAME) == 0) {
		key = st->keys.previous;
		ret = 2;
	} else
		return 0;
	if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
	    key + TLS_TK_NAME + TLS_TK_HMAC, iv) != 1 ||
	    tls_ticket_mac(hctx, key + TLS_TK_NAME) == -1)
		return -1;
	return ret;
}

int
tls_ticket_keys_set(SSL_CTX *ctx, const struct chan_ticket_keys *keys)
{
	struct tls_state *st = tls_state(ctx);

	if (st == NULL)
		return -1;
	bw_wipe(&st->keys, sizeof(st->keys));
	memcpy(st->keys.current, keys->current, CHAN_TICKET_KEY_LEN);
	if (keys->have_previous) {
		memcpy(st->keys.previous, keys->previous, CHAN_TICKET_KEY_LEN);
		st->keys.have_previous = 1;
	}
	st->have_keys = true;
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 1);
	return 0;
}

int
tls_ticket_keys_generate(struct chan_ticket_keys *keys)
{
	bw_wipe(keys, sizeof(*keys));
	return bw_random(keys->current, sizeof(keys->current));
}

int
tls_ticket_keys_rotate(struct chan_ticket_keys *keys)
{
	memcpy(keys->previous, keys->current, CHAN_TICKET_KEY_LEN);
	keys->have_previous = 1;
	bw_wipe(keys->current, sizeof(keys->current));
	return bw_random(keys->current, sizeof(keys->current));
}

static int
tls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)rwflag;
	(void)arg;
	if (size > 0)
		buf[0] = '\0';
	return -1;
}

EVP_PKEY *
tls_key_parse(const unsigned char *pem, size_t len, const char **err)
{
	EVP_PKEY	*pkey = NULL;
	BIO		*bio;

	*err = "cannot read the private key (PEM, unencrypted)";
	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		*err = tls_err("cannot read the private key (PEM, "
		    "unencrypted)");
	return pkey;
}

/*
 * The private key is read from the descriptor secret_open() checked (no
 * symbolic link, regular file, owner and mode), into memory that is wiped
 * afterwards; the path is never opened again.
 */
static EVP_PKEY *
tls_load_key(const char *path, const char **err)
{
	EVP_PKEY	*pkey = NULL;
	unsigned char	*buf;
	size_t		 len;
	int		 fd;

	if ((fd = secret_open(path, NULL, err)) == -1)
		return NULL;
	buf = bw_malloc(TLS_KEY_MAX);
	if (secret_read(fd, buf, TLS_KEY_MAX, &len, err) == -1)
		*err = "the private key is unreadable or larger than 64 KiB";
	else
		pkey = tls_key_parse(buf, len, err);
	close(fd);
	bw_wipe(buf, TLS_KEY_MAX);
	free(buf);
	return pkey;
}

/* The leaf, then the chain certificates, from PEM text; 1 on success. */
static int
tls_use_chain(SSL_CTX *ctx, const unsigned char *buf, size_t len)
{
	BIO		*bio;
	X509		*x;
	unsigned long	 e;
	int		 ok;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return 0;
	x = PEM_read_bio_X509_AUX(bio, NULL, tls_no_passphrase, NULL);
	ok = x != NULL && SSL_CTX_use_certificate(ctx, x) == 1 &&
	    SSL_CTX_clear_chain_certs(ctx) == 1;
	X509_free(x);
	while (ok && (x = PEM_read_bio_X509(bio, NULL, tls_no_passphrase,
	    NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			ok = 0;
		}
	}
	BIO_free(bio);
	e = ERR_peek_last_error();
	if (ok && ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		ERR_clear_error();
	else if (e != 0)
		ok = 0;
	return ok;
}

/*
 * The certificate chain, from one descriptor of a regular file: the leaf
 * first, then its chain.
 */
static int
tls_load_chain(SSL_CTX *ctx, const char *path, const char **err)
{
	struct stat	 sb;
	unsigned char	*buf;
	size_t		 len = 0;
	int		 fd, ok = 0;

	*err = "cannot load the certificate chain";
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return -1;
	buf = bw_malloc(TLS_CERT_MAX);
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    secret_read(fd, buf, TLS_CERT_MAX, &len, err) == 0)
		ok = tls_use_chain(ctx, buf, len);
	close(fd);
	free(buf);
	if (ok != 1) {
		*err = tls_err("cannot load the certificate chain");
		return -1;
	}
	return 0;
}

static int
tls_ctx_params(SSL_CTX *ctx, enum conf_tls_profile profile, const char **err)
{
	int	 min = profile == TLS_PROFILE_MODERN ? TLS1_3_VERSION :
		    TLS1_2_VERSION;

	SSL_CTX_clear_options(ctx, SSL_CTX_get_options(ctx));
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_ENABLE_MIDDLEBOX_COMPAT | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_security_level(ctx, 2);
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		*err = tls_err("cannot set the protocol range");
		return -1;
	}
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_13) != 1) {
		*err = tls_err("cannot set the cipher suites");
		return -1;
	}
	if (SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
		*err = tls_err("cannot set the key exchange groups");
		return -1;
	}
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_recv_max_early_data(ctx, 0);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, TLS_TICKET_LIFETIME);
	if (SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SID_CTX, sizeof(TLS_SID_CTX) - 1) != 1) {
		*err = tls_err("cannot set the session id context");
		return -1;
	}
	return 0;
}

static int
tls_ctx_cert(SSL_CTX *ctx, const struct conf_tls *c, EVP_PKEY *key,
    const char **err)
{
	EVP_PKEY	*pkey = key;
	int		 ok;

	if (c->certificate == NULL || c->private_key == NULL) {
		*err = "a certificate and a private key are required";
		return -1;
	}
	if (tls_load_chain(ctx, c->certificate, err) == -1)
		return -1;
	if (pkey == NULL && (pkey = tls_load_key(c->private_key, err)) == NULL)
		return -1;
	ok = SSL_CTX_use_PrivateKey(ctx, pkey);
	if (pkey != key)
		EVP_PKEY_free(pkey);
	if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		*err = tls_err("the private key does not match the certificate");
		return -1;
	}
	return 0;
}

static int
tls_ctx_client_ca(SSL_CTX *ctx, const struct conf_tls *c, const char **err)
{
	STACK_OF(X509_NAME) *names;
	int		 mode = SSL_VERIFY_PEER;

	if (c->client_ca == NULL)
		return 0;
	if (SSL_CTX_load_verify_file(ctx, c->client_ca) != 1 ||
	    (names = SSL_load_client_CA_file(c->client_ca)) == NULL) {
		*err = tls_err("cannot load client_ca");
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (c->client_verify == CLIENT_VERIFY_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	return 0;
}

static struct tls_state *
tls_state_new(char *const *hostnames, size_t n)
{
	struct tls_state *st;
	size_t		 i;

	st = bw_calloc(1, sizeof(*st));
	if (n > 0) {
		st->hostnames = bw_reallocarray(NULL, n, sizeof(char *));
		for (i = 0; i < n; i++)
			st->hostnames[i] = bw_strdup(hostnames[i]);
		st->nhostnames = n;
	}
	return st;
}

SSL_CTX *
tls_ctx_new(const struct conf_tls *c, char *const *hostnames, size_t n,
    const char **err)
{
	return tls_ctx_new_key(c, NULL, hostnames, n, err);
}

SSL_CTX *
tls_ctx_new_key(const struct conf_tls *c, EVP_PKEY *key,
    char *const *hostnames, size_t n, const char **err)
{
	SSL_CTX			*ctx;
	struct tls_state	*st;

	if (tls_indexes() == -1) {
		*err = "cannot allocate TLS ex_data indexes";
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*err = tls_err("cannot create a TLS context");
		return NULL;
	}
	st = tls_state_new(hostnames, n);
	if (SSL_CTX_set_ex_data(ctx, tls_ctx_idx, st) != 1) {
		tls_state_free(NULL, st, NULL, 0, 0, NULL);
		SSL_CTX_free(ctx);
		*err = "cannot attach the TLS state";
		return NULL;
	}
	if (tls_ctx_params(ctx, c->profile, err) == -1 ||
	    tls_ctx_cert(ctx, c, key, err) == -1 ||
	    tls_ctx_client_ca(ctx, c, err) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, st);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
	return ctx;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

int
tls_peer_subject(SSL *ssl, char *buf, size_t bufsz)
{
	X509	*cert;
	BIO	*bio;
	int	 n;

	if (bufsz == 0 || (cert = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253);
	n = BIO_read(bio, buf, (int)(bufsz - 1));
	BIO_free(bio);
	buf[n > 0 ? n : 0] = '\0';
	return 0;
}
