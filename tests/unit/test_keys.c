/*
 * test_keys.c - key files, RFC 7638 thumbprints, key sets and --gen-key.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "unit.h"
#include "conf.h"
#include "keys.h"
#include "util.h"

/* RFC 8037 A.1 (Ed25519) and its A.3 thumbprint. */
#define RFC8037_X	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_D	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_KID	"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define RFC8037_PUB	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" \
			    RFC8037_X "\"}"
#define RFC8037_PRIV	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" \
			    RFC8037_X "\",\"d\":\"" RFC8037_D "\"}"

/*
 * RFC 7515 A.3 (P-256) and A.1 (oct) keys; their thumbprints were computed
 * independently (SHA-256 of the canonical JWK text of RFC 7638 3.2).
 */
#define A3_X		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y		"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D		"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A3_KID		"oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
#define A3_JWK		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X \
			    "\",\"y\":\"" A3_Y "\",\"d\":\"" A3_D "\"}"
#define A1_K		"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH" \
			    "75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_KID		"y_x3gCJnL6oKGBBIXScabduwxTVy2Wd2bzRVEUbdUzc"

static char	 tmpdir[64];

static void
tmp_setup(void)
{
	unit_tmpdir(tmpdir, sizeof(tmpdir), "bw-test-keys");
}

static void
tmp_teardown(void)
{
	unit_rmtree(tmpdir);
}

static void
tmp_path(char *buf, size_t sz, const char *name)
{
	snprintf(buf, sz, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static size_t
read_file(const char *path, unsigned char *buf, size_t cap)
{
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, cap);
	ck_assert_int_ge(n, 0);
	close(fd);
	return (size_t)n;
}

static bool
kid_is_b64url(const char *kid)
{
	size_t	 i;

	if (strlen(kid) != KEYS_KID_LEN)
		return false;
	for (i = 0; i < KEYS_KID_LEN; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_", kid[i]) == NULL)
			return false;
	return true;
}

static struct keys_key *
parse_str(const char *s, const char **err)
{
	return keys_key_parse((const unsigned char *)s, strlen(s), err);
}

/* PEM text of the RFC 8037 key, private (PKCS#8) or public (SPKI). */
static char *
rfc8037_pem(bool priv)
{
	static const unsigned char d[32] = {
		0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60,
		0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
		0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
		0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
	};
	EVP_PKEY	*pkey;
	BIO		*bio;
	char		*p, *out;
	long		 n;

	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d,
	    sizeof(d));
	ck_assert_ptr_nonnull(pkey);
	bio = BIO_new(BIO_s_mem());
	if (priv)
		ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL,
		    NULL, 0, NULL, NULL), 1);
	else
		ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	n = BIO_get_mem_data(bio, &p);
	out = bw_strndup(p, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return out;
}

START_TEST(thumbprint_rfc8037)
{
	struct keys_key	*k;
	const char	*err = NULL;
	char		*pem;

	k = keys_key_from_jwk(RFC8037_PUB, strlen(RFC8037_PUB), &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_str_eq(k->kid, RFC8037_KID);
	ck_assert_int_eq(k->alg, KEYS_ALG_EDDSA);
	ck_assert(!k->can_sign);
	keys_key_free(k);

	k = keys_key_from_jwk(RFC8037_PRIV, strlen(RFC8037_PRIV), &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_str_eq(k->kid, RFC8037_KID);
	ck_assert(k->can_sign);
	keys_key_free(k);

	pem = rfc8037_pem(true);
	k = parse_str(pem, &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_str_eq(k->kid, RFC8037_KID);
	ck_assert(k->can_sign);
	keys_key_free(k);
	free(pem);

	pem = rfc8037_pem(false);
	k = parse_str(pem, &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_str_eq(k->kid, RFC8037_KID);
	ck_assert(!k->can_sign);
	keys_key_free(k);
	free(pem);
}
END_TEST

START_TEST(thumbprint_ec_oct)
{
	static const char oct[] = "{\"kty\":\"oct\",\"k\":\"" A1_K "\"}";
	struct keys_key	*k;
	const char	*err = NULL;

	k = keys_key_from_jwk(A3_JWK, strlen(A3_JWK), &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_int_eq(k->alg, KEYS_ALG_ES256);
	ck_assert_str_eq(k->kid, A3_KID);
	ck_assert(k->can_sign);
	keys_key_free(k);

	k = keys_key_from_jwk(oct, strlen(oct), &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_int_eq(k->alg, KEYS_ALG_HS256);
	ck_assert_str_eq(k->kid, A1_KID);
	ck_assert_uint_eq(k->secretlen, 64);
	keys_key_free(k);
}
END_TEST

START_TEST(jwk_refused)
{
	static const char *bad[] = {
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"enc\",\"x\":\""
		    RFC8037_X "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"key_ops\":[\"sign\"],"
		    "\"x\":\"" RFC8037_X "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
		    "\"x\":\"" RFC8037_X "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" RFC8037_X "\"}",
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" A3_X
		    "\",\"d\":\"" RFC8037_D "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\""
		    A3_X "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\""
		    A3_Y "\"}",
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\""
		    A3_Y "\",\"d\":\"" RFC8037_D "\"}",
		"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAA\"}",
		"{\"kty\":\"oct\",\"k\":\"" A1_K "=\"}",
		"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
		"{\"kty\":\"oct\",\"kty\":\"oct\",\"k\":\"" A1_K "\"}",
		"[]",
		"{}",
	};
	const char	*err;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		err = NULL;
		ck_assert_msg(keys_key_from_jwk(bad[i], strlen(bad[i]),
		    &err) == NULL, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(err);
	}
}
END_TEST

START_TEST(secret_files)
{
	unsigned char	 buf[KEYS_FILE_MAX + 1];
	struct keys_key	*k;
	const char	*err;
	size_t		 i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	err = NULL;
	ck_assert_ptr_null(keys_key_parse(buf, KEYS_HMAC_MIN - 1, &err));
	ck_assert_str_eq(err, "HS256 key shorter than 32 bytes");
	k = keys_key_parse(buf, KEYS_HMAC_MIN, &err);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(k->alg, KEYS_ALG_HS256);
	ck_assert(k->can_sign);
	ck_assert(kid_is_b64url(k->kid));
	keys_key_free(k);
	k = keys_key_parse(buf, KEYS_HMAC_MAX, &err);
	ck_assert_ptr_nonnull(k);
	keys_key_free(k);
	ck_assert_ptr_null(keys_key_parse(buf, KEYS_HMAC_MAX + 1, &err));
	ck_assert_str_eq(err, "HS256 key longer than 1024 bytes");
	ck_assert_ptr_null(keys_key_parse(buf, KEYS_FILE_MAX + 1, &err));
	ck_assert_str_eq(err, "key file larger than 16 KiB");
	memset(buf, 'a', 64);
	ck_assert_ptr_null(keys_key_parse(buf, 64, &err));
	ck_assert_str_eq(err, "HS256 key is one byte repeated");
}
END_TEST

/*
 * A public key in any published form is never an HMAC secret: DER SPKI,
 * an OpenSSH line, a JWK.  PEM is parsed as PEM and gives a public key.
 */
START_TEST(public_key_never_hmac)
{
	static const char ssh[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINda"
	    "mAGCsQq31Uv+08lkBzoO4XL2yqYjJa8CGmj3B1Ea bulwark@example\n";
	EVP_PKEY	*pkey;
	unsigned char	*der = NULL;
	struct keys_key	*k;
	const char	*err;
	char		*pem;
	int		 n;

	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
	    (const unsigned char *)"0123456789abcdef0123456789abcdef", 32);
	ck_assert_ptr_nonnull(pkey);
	n = i2d_PUBKEY(pkey, &der);
	ck_assert_int_eq(n, 44);
	err = NULL;
	ck_assert_ptr_null(keys_key_parse(der, (size_t)n, &err));
	ck_assert_ptr_nonnull(strstr(err, "DER"));
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);

	ck_assert_ptr_null(parse_str(ssh, &err));
	ck_assert_ptr_null(parse_str(RFC8037_PUB, &err));
	ck_assert_ptr_nonnull(strstr(err, "JWK"));

	pem = rfc8037_pem(false);
	k = parse_str(pem, &err);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(k->alg, KEYS_ALG_EDDSA);
	ck_assert(k->secret == NULL);
	keys_key_free(k);
	free(pem);
}
END_TEST

static char *
pem_of(EVP_PKEY *pkey, int kind)
{
	BIO	*bio;
	char	*p, *out;
	long	 n;

	bio = BIO_new(BIO_s_mem());
	if (kind == 0)
		ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL,
		    NULL, 0, NULL, NULL), 1);
	else if (kind == 1)
		ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey,
		    EVP_aes_256_cbc(), (unsigned char *)"pw", 2, NULL, NULL),
		    1);
	else
		ck_assert_int_eq(PEM_write_bio_PrivateKey_traditional(bio,
		    pkey, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &p);
	out = bw_strndup(p, (size_t)n);
	BIO_free(bio);
	return out;
}

START_TEST(pem_refused)
{
	EVP_PKEY	*p384, *rsa, *p256;
	const char	*err;
	char		*pem, *two;
	size_t		 len;

	p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ck_assert(p384 != NULL && p256 != NULL && rsa != NULL);

	pem = pem_of(p384, 0);
	ck_assert_ptr_null(parse_str(pem, &err));
	ck_assert_str_eq(err, "EC key on a curve other than P-256");
	free(pem);
	pem = pem_of(rsa, 0);
	ck_assert_ptr_null(parse_str(pem, &err));
	ck_assert_str_eq(err, "unsupported key type (Ed25519 or P-256 only)");
	free(pem);
	pem = pem_of(p256, 1);
	ck_assert_ptr_null(parse_str(pem, &err));
	ck_assert_str_eq(err, "encrypted private keys are not supported");
	free(pem);
	pem = pem_of(p256, 2);
	ck_assert_ptr_null(parse_str(pem, &err));
	ck_assert_ptr_nonnull(strstr(err, "unsupported PEM block"));
	free(pem);

	pem = pem_of(p256, 0);
	len = strlen(pem);
	two = bw_malloc(2 * len + 1);
	memcpy(two, pem, len);
	memcpy(two + len, pem, len + 1);
	ck_assert_ptr_null(parse_str(two, &err));
	ck_assert_str_eq(err, "more than one PEM block");
	pem[len / 2] = '*';
	ck_assert_ptr_null(parse_str(pem, &err));
	free(two);
	free(pem);
	ck_assert_ptr_null(parse_str("-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n", &err));
	ck_assert_str_eq(err, "malformed key in PEM block");
	ck_assert_ptr_null(parse_str("-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n", &err));
	ck_assert_ptr_nonnull(strstr(err, "unsupported PEM block"));

	EVP_PKEY_free(p384);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(rsa);
}
END_TEST

START_TEST(load_checks_file)
{
	char		 path[128], link[128];
	unsigned char	 secret[40];
	struct keys_key	*k;
	const char	*err;

	memset(secret, 0, sizeof(secret));
	memcpy(secret, "a file secret that is long enough!", 34);
	tmp_path(path, sizeof(path), "hs.key");
	write_file(path, secret, sizeof(secret), 0600);
	k = keys_key_load(NULL, path, &err);
	ck_assert_msg(k != NULL, "%s", err);
	ck_assert_int_eq(k->alg, KEYS_ALG_HS256);
	ck_assert_uint_eq(k->secretlen, sizeof(secret));
	keys_key_free(k);

	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_ptr_null(keys_key_load(NULL, path, &err));
	ck_assert_ptr_nonnull(strstr(err, "others"));
	ck_assert_int_eq(chmod(path, 0600), 0);

	tmp_path(link, sizeof(link), "hs.link");
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_ptr_null(keys_key_load(NULL, link, &err));
	ck_assert_str_eq(err, "is a symbolic link");

	tmp_path(path, sizeof(path), "absent.key");
	ck_assert_ptr_null(keys_key_load(NULL, path, &err));
	ck_assert_ptr_nonnull(err);
}
END_TEST

/* A file larger than KEYS_FILE_MAX is refused while reading. */
START_TEST(load_too_large)
{
	static unsigned char	 big[KEYS_FILE_MAX + 100];
	char			 path[128];
	const char		*err;
	size_t			 i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 13 + 1);
	tmp_path(path, sizeof(path), "big.key");
	write_file(path, big, sizeof(big), 0600);
	ck_assert_ptr_null(keys_key_load(NULL, path, &err));
	ck_assert_str_eq(err, "key file larger than 16 KiB");
}
END_TEST

static void
check_generated(const char *kind, enum keys_alg alg, bool pem)
{
	unsigned char	 buf[4096], again[4096];
	char		 path[128], kid[KEYS_KID_LEN + 1];
	struct keys_key	*k;
	struct stat	 st;
	const char	*err = NULL;
	size_t		 n;

	tmp_path(path, sizeof(path), kind);
	ck_assert_msg(keys_generate(kind, path, &err) == 0, "%s: %s", kind,
	    err);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	if (getgrnam(CONF_SERVICE_USER) != NULL && geteuid() == 0)
		ck_assert_int_eq(st.st_mode & 07777, 0640);
	else
		ck_assert_int_eq(st.st_mode & 07777, 0600);
	n = read_file(path, buf, sizeof(buf));
	if (pem)
		ck_assert_int_eq(memcmp(buf, "-----BEGIN PRIVATE KEY-----\n",
		    28), 0);
	else
		ck_assert_uint_eq(n, KEYS_GEN_SECRET_LEN);

	k = keys_key_load(NULL, path, &err);
	ck_assert_msg(k != NULL, "%s: %s", kind, err);
	ck_assert_int_eq(k->alg, alg);
	ck_assert(k->can_sign);
	ck_assert(kid_is_b64url(k->kid));
	bw_strlcpy(kid, k->kid, sizeof(kid));
	keys_key_free(k);
	k = keys_key_load(NULL, path, &err);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->kid, kid);
	keys_key_free(k);

	ck_assert_int_eq(keys_generate(kind, path, &err), -1);
	ck_assert_str_eq(err, "file exists (never overwritten)");
	ck_assert_uint_eq(read_file(path, again, sizeof(again)), n);
	ck_assert_int_eq(memcmp(buf, again, n), 0);
}

START_TEST(generate_each_kind)
{
	char		 path[128];
	unsigned char	 buf[64];
	struct stat	 st;
	const char	*err;

	check_generated("ed25519", KEYS_ALG_EDDSA, true);
	check_generated("es256", KEYS_ALG_ES256, true);
	check_generated("hs256", KEYS_ALG_HS256, false);

	tmp_path(path, sizeof(path), "audit.key");
	ck_assert_int_eq(keys_generate("audit", path, &err), 0);
	ck_assert_uint_eq(read_file(path, buf, sizeof(buf)),
	    KEYS_GEN_SECRET_LEN);
	tmp_path(path, sizeof(path), "backup.key");
	ck_assert_int_eq(keys_generate("backup", path, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, KEYS_GEN_SECRET_LEN);

	tmp_path(path, sizeof(path), "rsa.key");
	ck_assert_int_eq(keys_generate("rsa", path, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown key kind"));
	ck_assert_int_eq(stat(path, &st), -1);

	tmp_path(path, sizeof(path), "missing-dir/x.key");
	ck_assert_int_eq(keys_generate("hs256", path, &err), -1);
}
END_TEST

/* Two generated keys differ. */
START_TEST(generate_distinct)
{
	char		 a[128], b[128];
	struct keys_key	*ka, *kb;
	const char	*err;

	tmp_path(a, sizeof(a), "one");
	tmp_path(b, sizeof(b), "two");
	ck_assert_int_eq(keys_generate("ed25519", a, &err), 0);
	ck_assert_int_eq(keys_generate("ed25519", b, &err), 0);
	ka = keys_key_load(NULL, a, &err);
	kb = keys_key_load(NULL, b, &err);
	ck_assert(ka != NULL && kb != NULL);
	ck_assert_str_ne(ka->kid, kb->kid);
	keys_key_free(ka);
	keys_key_free(kb);
}
END_TEST

START_TEST(generate_refuses_links)
{
	char		 target[128], link[128], dangling[128];
	unsigned char	 buf[32];
	struct stat	 st;
	const char	*err;

	tmp_path(target, sizeof(target), "target");
	write_file(target, "original", 8, 0600);
	tmp_path(link, sizeof(link), "link");
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(keys_generate("hs256", link, &err), -1);
	ck_assert_uint_eq(read_file(target, buf, sizeof(buf)), 8);
	ck_assert_int_eq(memcmp(buf, "original", 8), 0);

	tmp_path(dangling, sizeof(dangling), "dangling");
	tmp_path(target, sizeof(target), "not-there");
	ck_assert_int_eq(symlink(target, dangling), 0);
	ck_assert_int_eq(keys_generate("ed25519", dangling, &err), -1);
	ck_assert_int_eq(stat(target, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* As root with an existing group: 0640 and that group. */
START_TEST(generate_group_mode)
{
	struct group	*gr;
	struct stat	 st;
	char		 path[128];
	const char	*err;

	tmp_path(path, sizeof(path), "nogroup.key");
	ck_assert_int_eq(keys_generate_group("hs256", path,
	    "bulwark-no-such-group", &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	if (geteuid() != 0 || (gr = getgrnam("daemon")) == NULL) {
		printf("NOTE: not root or no group daemon: 0640 case "
		    "skipped\n");
		return;
	}
	tmp_path(path, sizeof(path), "group.key");
	ck_assert_int_eq(keys_generate_group("es256", path, "daemon", &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_gid, gr->gr_gid);
}
END_TEST

static void
conf_stub(struct conf *c, struct conf_auth *a)
{
	memset(c, 0, sizeof(*c));
	memset(a, 0, sizeof(*a));
	c->file = (char *)"test.yaml";
	c->server.user = (char *)"nobody";
	c->auth = a;
}

START_TEST(set_load)
{
	struct conf		 c;
	struct conf_auth	 a;
	struct keys_set		*s, *s2;
	const struct keys_key	*k;
	char			 sign[128], v1[128], v2[128], pub[128];
	char			*verify[3], *pem;
	const char		*err, *errpath;

	conf_stub(&c, &a);
	tmp_path(sign, sizeof(sign), "sign.pem");
	tmp_path(v1, sizeof(v1), "v1.pem");
	tmp_path(v2, sizeof(v2), "v2.key");
	tmp_path(pub, sizeof(pub), "pub.pem");
	ck_assert_int_eq(keys_generate("ed25519", sign, &err), 0);
	ck_assert_int_eq(keys_generate("es256", v1, &err), 0);
	ck_assert_int_eq(keys_generate("hs256", v2, &err), 0);
	pem = rfc8037_pem(false);
	write_file(pub, pem, strlen(pem), 0600);
	free(pem);

	ck_assert_ptr_null(keys_set_load(&c, &err, &errpath));
	ck_assert_str_eq(err, "auth.signing_key_file is not set");

	a.signing_key_file = sign;
	verify[0] = v1;
	verify[1] = v2;
	verify[2] = pub;
	a.verify_key_files = verify;
	a.nverify_key_files = 3;
	s = keys_set_load(&c, &err, &errpath);
	ck_assert_msg(s != NULL, "%s: %s", errpath, err);
	ck_assert_uint_eq(s->nkeys, 4);
	ck_assert_int_eq(keys_set_signing(s)->alg, KEYS_ALG_EDDSA);
	k = keys_set_find(s, RFC8037_KID, strlen(RFC8037_KID));
	ck_assert_ptr_nonnull(k);
	ck_assert(!k->can_sign);
	ck_assert_ptr_eq(keys_set_find(s, s->keys[1]->kid, KEYS_KID_LEN),
	    s->keys[1]);
	ck_assert_ptr_null(keys_set_find(s, s->keys[1]->kid,
	    KEYS_KID_LEN - 1));
	ck_assert_ptr_null(keys_set_find(s, "../../etc/passwd", 16));

	s2 = keys_set_load(&c, &err, &errpath);
	ck_assert_ptr_nonnull(s2);
	ck_assert_uint_ne(s->id, s2->id);
	keys_set_free(s2);
	keys_set_free(s);

	verify[1] = sign;
	ck_assert_ptr_null(keys_set_load(&c, &err, &errpath));
	ck_assert_str_eq(err, "the same key is loaded twice");
	ck_assert_str_eq(errpath, sign);

	a.signing_key_file = pub;
	a.nverify_key_files = 0;
	ck_assert_ptr_null(keys_set_load(&c, &err, &errpath));
	ck_assert_str_eq(err, "the signing key is a public key");
	ck_assert_str_eq(errpath, pub);
}
END_TEST

START_TEST(set_bounded)
{
	struct keys_set	*s;
	unsigned char	 secret[32];
	const char	*err;
	size_t		 i;

	s = keys_set_new();
	for (i = 0; i < KEYS_SET_MAX; i++) {
		memset(secret, (int)i, sizeof(secret));
		secret[0] ^= 0x5a;
		ck_assert_int_eq(keys_set_add(s, keys_key_parse(secret,
		    sizeof(secret), &err), &err), 0);
	}
	secret[1] ^= 1;
	ck_assert_int_eq(keys_set_add(s, keys_key_parse(secret,
	    sizeof(secret), &err), &err), -1);
	ck_assert_str_eq(err, "too many keys");
	ck_assert_uint_eq(s->nkeys, KEYS_SET_MAX);
	keys_set_free(s);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("keys");
	TCase	*tc = tcase_create("keys");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, thumbprint_rfc8037);
	tcase_add_test(tc, thumbprint_ec_oct);
	tcase_add_test(tc, jwk_refused);
	tcase_add_test(tc, secret_files);
	tcase_add_test(tc, public_key_never_hmac);
	tcase_add_test(tc, pem_refused);
	tcase_add_test(tc, load_checks_file);
	tcase_add_test(tc, load_too_large);
	tcase_add_test(tc, generate_each_kind);
	tcase_add_test(tc, generate_distinct);
	tcase_add_test(tc, generate_refuses_links);
	tcase_add_test(tc, generate_group_mode);
	tcase_add_test(tc, set_load);
	tcase_add_test(tc, set_bounded);
	suite_add_tcase(s, tc);
	return s;
}
