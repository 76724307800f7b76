/*
 * keys.h - token signing and verification keys (SPEC 8) and --gen-key
 * (SPEC 3).
 *
 * A key is one of three kinds, and its kind alone fixes the JWS algorithm
 * it is used with: Ed25519 -> EdDSA, P-256 -> ES256, a raw secret -> HS256.
 * Nothing read from a token ever chooses how a key is used.
 *
 * Key files: Ed25519 or P-256 keys are PEM, a private key as PKCS#8
 * ("PRIVATE KEY") or, in verify_key_files only, a public key as SPKI
 * ("PUBLIC KEY").  Any other file holds an HS256 secret: its bytes, as they
 * are, 32 to KEYS_HMAC_MAX of them.  A file that holds a PEM block, a DER
 * key or an OpenSSH public key is never taken as an HMAC secret, so a
 * public key can never become the secret of an HS256 token (the classic
 * algorithm confusion).  Every file is opened through secret_open()
 * (no symbolic link, type, owner and mode of SPEC 4).
 *
 * The kid of a key is its RFC 7638 JWK thumbprint: base64url of SHA-256 of
 * the canonical JWK (OKP {crv,kty,x}; EC {crv,kty,x,y}; oct {k,kty}).
 *
 * Secret material (EVP_PKEY private keys, HMAC secrets, file buffers) is
 * wiped when freed.
 */
#ifndef BW_KEYS_H
#define BW_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;
struct evp_pkey_st;

enum keys_alg {
	KEYS_ALG_EDDSA,
	KEYS_ALG_ES256,
	KEYS_ALG_HS256,
};

#define KEYS_KID_LEN		43	/* base64url of 32 bytes */
#define KEYS_HMAC_MIN		32	/* bytes of an HS256 secret */
#define KEYS_HMAC_MAX		1024
#define KEYS_FILE_MAX		16384	/* a larger key file is refused */
#define KEYS_SET_MAX		16	/* signing key + verify keys */
#define KEYS_GEN_SECRET_LEN	32	/* --gen-key hs256|audit|backup */

/* Read-only outside keys.c. */
struct keys_key {
	enum keys_alg		 alg;
	bool			 can_sign;	/* private key or secret */
	char			 kid[KEYS_KID_LEN + 1];
	struct evp_pkey_st	*pkey;		/* EdDSA, ES256 */
	unsigned char		*secret;	/* HS256; wiped on free */
	size_t			 secretlen;
};

/*
 * The keys of one configuration: the signing key first, then the verify
 * keys, kids unique.  id is unique per process for every set made, so a
 * cache of verified tokens can tell that the keys changed under it.
 */
struct keys_set {
	uint64_t		 id;
	struct keys_key		*keys[KEYS_SET_MAX];
	size_t			 nkeys;
};

/* "EdDSA", "ES256", "HS256". */
const char		*keys_alg_name(enum keys_alg);

/*
 * Loads one key file.  conf may be NULL (administration modes without a
 * configuration): the owner and mode checks are then made for
 * CONF_SERVICE_USER without the server.user check.
 */
struct keys_key		*keys_key_load(const struct conf *, const char *path,
			    const char **err);
/*
 * The bytes of a key file, unparsed (the master hands them to the key
 * manager): *out is malloc'd with KEYS_FILE_MAX + 1 bytes, to be wiped
 * and freed by the caller.  The checks of keys_key_load().
 */
int			 keys_file_read(const struct conf *, const char *path,
			    unsigned char **out, size_t *len, const char **err);
/*
 * The public key of an EdDSA or ES256 key as DER SPKI (at most cap
 * bytes), and a (public, verify-only) key from such DER.
 */
#define KEYS_SPKI_MAX		128
int			 keys_key_spki(const struct keys_key *,
			    unsigned char *out, size_t cap, size_t *len);
struct keys_key		*keys_key_public(const unsigned char *der, size_t len,
			    const char **err);
/* The same from bytes already read (tests, fuzzing). */
struct keys_key		*keys_key_parse(const unsigned char *, size_t,
			    const char **err);
/*
 * A key from a JWK (RFC 7517) for the test vectors: kty oct, EC P-256 or
 * OKP Ed25519, public or private.  A key whose "use" is not "sig", whose
 * "key_ops" lack "verify" or whose "alg" is not the key's is refused.
 */
struct keys_key		*keys_key_from_jwk(const char *, size_t,
			    const char **err);
void			 keys_key_free(struct keys_key *);

/*
 * auth.signing_key_file (must be able to sign) and auth.verify_key_files.
 * On error *errpath names the file at fault (a string of the conf).
 */
struct keys_set		*keys_set_load(const struct conf *, const char **err,
			    const char **errpath);
/* An empty set; keys_set_add() takes the key (freed on error too). */
struct keys_set		*keys_set_new(void);
int			 keys_set_add(struct keys_set *, struct keys_key *,
			    const char **err);
/* The signing key (the first one added). */
const struct keys_key	*keys_set_signing(const struct keys_set *);
/* Lookup by kid; NULL when no loaded key has it. */
const struct keys_key	*keys_set_find(const struct keys_set *,
			    const char *kid, size_t len);
void			 keys_set_free(struct keys_set *);

/*
 * --gen-key KIND FILE: KIND ed25519|es256 (PKCS#8 PEM) or
 * hs256|audit|backup (KEYS_GEN_SECRET_LEN random bytes).  The file is
 * created O_CREAT|O_EXCL|O_NOFOLLOW (never overwritten, never through a
 * link), mode 0600, or 0640 with the group CONF_SERVICE_USER when running
 * as root and that group exists; written and fsync'ed (the directory too).
 * keys_generate_group() names the group (tests).
 */
int			 keys_generate(const char *kind, const char *path,
			    const char **err);
int			 keys_generate_group(const char *kind,
			    const char *path, const char *group,
			    const char **err);
/*
 * The contents such a file gets, in memory: a buffer of KEYS_FILE_MAX
 * bytes that the caller wipes (bw_wipe, KEYS_FILE_MAX) and frees; NULL
 * with *err for an unknown kind or a failure.
 */
unsigned char		*keys_gen_bytes(const char *kind, size_t *len,
			    const char **err);

#endif
