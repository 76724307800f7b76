/*
 * tlskey.c - the "bulwark-tlskey" provider (tlskey.h): a KEYMGMT and a
 * SIGNATURE implementation for EC, Ed25519 and RSA keys whose private
 * half lives in the key manager.
 *
 * Key data: the public key (an EVP_PKEY of the default provider, built
 * from the SubjectPublicKeyInfo the key manager answered) and the handle.
 * Every parameter query (bits, security bits, maximum signature size,
 * group, encoded public key, ...) is passed to the public key; match and
 * export cover the public part only, so X509_check_private_key and
 * EVP_PKEY_eq compare public keys, as they do for any key.  A key made
 * by import without a handle (libssl comparing a certificate's key) can
 * match but not sign.
 *
 * Names: the key types keep their usual names ("EC", "RSA", "ED25519"),
 * so libssl classifies the key as it would any other; the signature
 * implementations have names of their own, answered by the key type's
 * operation-name query, so that a signature with such a key can only be
 * fetched from this provider.  The library context's default properties
 * prefer provider=default, so that no other fetch (a key exchange, a
 * certificate's key) ever lands here.
 *
 * Invariants: the provider never holds private key bytes; a signing input
 * is bounded (TLSKEY_INPUT_MAX); the signature returned fits the caller's
 * buffer; without a transport, or when it fails, signing fails.
 *
 * Threat model: this code runs in the workers, which face the network;
 * the key manager checks every request again (keymgr_tls.c) and is the
 * only place that can sign.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "log.h"
#include "tlskey.h"
#include "util.h"

#define TLSKEY_PARAM_SPKI	"bulwark-spki"
#define TLSKEY_PARAM_HANDLE	"bulwark-handle"
#define TLSKEY_PROPS		"provider=" TLSKEY_PROVIDER
#define TLSKEY_DEFAULT		"provider=default"

struct tlskey_key {
	enum tlskey_scheme	 family;	/* ECDSA, ED25519 or RSA_PKCS1 */
	EVP_PKEY		*pub;
	uint32_t		 handle;	/* 0: public only */
};

struct tlskey_sig {
	struct tlskey_key	*key;
	EVP_MD_CTX		*md;		/* ECDSA, RSA */
	int			 nid;		/* of md */
	int			 pad;		/* RSA_PKCS1_(PSS_)PADDING */
	int			 saltlen;	/* PSS: -1 is the digest's */
	unsigned char		 msg[TLSKEY_INPUT_MAX];	/* Ed25519 */
	size_t			 msglen;
};

static struct {
	tlskey_transport_fn	 fn;
	void			*arg;
	int			 loaded;
	OSSL_PROVIDER		*dflt;
	OSSL_PROVIDER		*self;
} tlskey_g;

void
tlskey_set_transport(tlskey_transport_fn fn, void *arg)
{
	tlskey_g.fn = fn;
	tlskey_g.arg = arg;
}

enum tlskey_scheme
tlskey_scheme_of(const EVP_PKEY *pk)
{
	char	 group[32];
	size_t	 n;

	if (EVP_PKEY_is_a(pk, "ED25519"))
		return TLSKEY_ED25519;
	if (EVP_PKEY_is_a(pk, "RSA"))
		return TLSKEY_RSA_PKCS1;
	if (!EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_get_utf8_string_param(pk,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &n) != 1)
		return 0;
	return strcmp(group, "prime256v1") == 0 ||
	    strcmp(group, "secp384r1") == 0 ? TLSKEY_ECDSA : 0;
}

/*
 * Key management.
 */
static struct tlskey_key *
tlskey_key_new(enum tlskey_scheme family)
{
	struct tlskey_key	*k = bw_calloc(1, sizeof(*k));

	k->family = family;
	return k;
}

static void *
tlskey_new_ec(void *provctx)
{
	(void)provctx;
	return tlskey_key_new(TLSKEY_ECDSA);
}

static void *
tlskey_new_ed25519(void *provctx)
{
	(void)provctx;
	return tlskey_key_new(TLSKEY_ED25519);
}

static void *
tlskey_new_rsa(void *provctx)
{
	(void)provctx;
	return tlskey_key_new(TLSKEY_RSA_PKCS1);
}

static void
tlskey_free(void *keydata)
{
	struct tlskey_key	*k = keydata;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	free(k);
}

static const char *
tlskey_type_name(enum tlskey_scheme family)
{
	return family == TLSKEY_ECDSA ? "EC" : family == TLSKEY_ED25519 ?
	    "ED25519" : "RSA";
}

/* The public part from parameters the default provider understands. */
static EVP_PKEY *
tlskey_pub_fromdata(enum tlskey_scheme family, const OSSL_PARAM params[])
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pk = NULL;

	ctx = EVP_PKEY_CTX_new_from_name(NULL, tlskey_type_name(family),
	    TLSKEY_DEFAULT);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY,
	    (OSSL_PARAM *)params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static EVP_PKEY *
tlskey_pub_spki(const OSSL_PARAM *p)
{
	const unsigned char	*der;
	const void		*v;
	size_t			 len;

	if (OSSL_PARAM_get_octet_string_ptr(p, &v, &len) != 1 ||
	    len > LONG_MAX)
		return NULL;
	der = v;
	return d2i_PUBKEY_ex(NULL, &der, (long)len, NULL, TLSKEY_DEFAULT);
}

static int
tlskey_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct tlskey_key	*k = keydata;
	const OSSL_PARAM	*p;
	EVP_PKEY		*pub;

	if (k == NULL || (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, TLSKEY_PARAM_SPKI)) != NULL)
		pub = tlskey_pub_spki(p);
	else
		pub = tlskey_pub_fromdata(k->family, params);
	if (pub == NULL || tlskey_scheme_of(pub) != k->family) {
		EVP_PKEY_free(pub);
		return 0;
	}
	EVP_PKEY_free(k->pub);
	k->pub = pub;
	k->handle = 0;
	if ((p = OSSL_PARAM_locate_const(params, TLSKEY_PARAM_HANDLE)) !=
	    NULL && OSSL_PARAM_get_uint32(p, &k->handle) != 1)
		return 0;
	return 1;
}

static int
tlskey_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct tlskey_key	*k = keydata;

	if (k == NULL || k->pub == NULL)
		return 0;
	selection &= ~OSSL_KEYMGMT_SELECT_PRIVATE_KEY;
	return EVP_PKEY_export(k->pub, selection, cb, cbarg);
}

static const OSSL_PARAM *
tlskey_import_types(int selection)
{
	static const OSSL_PARAM	 types[] = {
		OSSL_PARAM_octet_string(TLSKEY_PARAM_SPKI, NULL, 0),
		OSSL_PARAM_uint32(TLSKEY_PARAM_HANDLE, NULL),
		OSSL_PARAM_END
	};

	(void)selection;
	return types;
}

static const OSSL_PARAM *
tlskey_export_types(int selection)
{
	static const OSSL_PARAM	 none[] = { OSSL_PARAM_END };

	(void)selection;
	return none;
}

static int
tlskey_has(const void *keydata, int selection)
{
	const struct tlskey_key	*k = keydata;

	if (k == NULL || k->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return k->handle != 0;
	return 1;
}

static int
tlskey_match(const void *a, const void *b, int selection)
{
	const struct tlskey_key	*ka = a, *kb = b;

	(void)selection;
	return ka->pub != NULL && kb->pub != NULL &&
	    EVP_PKEY_eq(ka->pub, kb->pub) == 1;
}

static int
tlskey_get_params(void *keydata, OSSL_PARAM params[])
{
	struct tlskey_key	*k = keydata;

	return k != NULL && k->pub != NULL &&
	    EVP_PKEY_get_params(k->pub, params) == 1;
}

static const OSSL_PARAM *
tlskey_gettable_params(void *provctx)
{
	static const OSSL_PARAM	 gettable[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
		    NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL,
		    0),
		OSSL_PARAM_END
	};

	(void)provctx;
	return gettable;
}

static const char *
tlskey_op_ec(int op)
{
	return op == OSSL_OP_SIGNATURE ? "BULWARK-TLSKEY-ECDSA" : NULL;
}

static const char *
tlskey_op_ed25519(int op)
{
	return op == OSSL_OP_SIGNATURE ? "BULWARK-TLSKEY-ED25519" : NULL;
}

static const char *
tlskey_op_rsa(int op)
{
	return op == OSSL_OP_SIGNATURE ? "BULWARK-TLSKEY-RSA" : NULL;
}

#define TLSKEY_KEYMGMT(newfn, opfn) {					\
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))(newfn) },		\
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))tlskey_free },	\
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))tlskey_import },	\
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES,				\
	    (void (*)(void))tlskey_import_types },			\
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))tlskey_export },	\
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES,				\
	    (void (*)(void))tlskey_export_types },			\
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))tlskey_has },		\
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))tlskey_match },	\
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS,					\
	    (void (*)(void))tlskey_get_params },			\
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,				\
	    (void (*)(void))tlskey_gettable_params },			\
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,			\
	    (void (*)(void))(opfn) },					\
	{ 0, NULL }							\
}

static const OSSL_DISPATCH tlskey_keymgmt_ec[] =
    TLSKEY_KEYMGMT(tlskey_new_ec, tlskey_op_ec);
static const OSSL_DISPATCH tlskey_keymgmt_ed25519[] =
    TLSKEY_KEYMGMT(tlskey_new_ed25519, tlskey_op_ed25519);
static const OSSL_DISPATCH tlskey_keymgmt_rsa[] =
    TLSKEY_KEYMGMT(tlskey_new_rsa, tlskey_op_rsa);

/*
 * Signature.
 */
static void *
tlskey_sig_new(void *provctx, const char *propq)
{
	struct tlskey_sig	*s = bw_calloc(1, sizeof(*s));

	(void)provctx;
	(void)propq;
	s->saltlen = -1;
	return s;
}

static void
tlskey_sig_free(void *ctx)
{
	struct tlskey_sig	*s = ctx;

	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->md);
	free(s);
}

static void *
tlskey_sig_dup(void *ctx)
{
	const struct tlskey_sig	*s = ctx;
	struct tlskey_sig	*d = bw_malloc(sizeof(*d));

	*d = *s;
	d->md = NULL;
	if (s->md != NULL && ((d->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_MD_CTX_copy_ex(d->md, s->md) != 1)) {
		tlskey_sig_free(d);
		return NULL;
	}
	return d;
}

/* Only the digests TLS signs with at security level 2. */
static int
tlskey_sig_digest(struct tlskey_sig *s, const char *name)
{
	EVP_MD	*md;
	int	 nid, ok;

	if (s->key->family == TLSKEY_ED25519)
		return name == NULL || name[0] == '\0';
	if ((md = EVP_MD_fetch(NULL, name != NULL && name[0] != '\0' ? name :
	    "SHA256", TLSKEY_DEFAULT)) == NULL)
		return 0;
	nid = EVP_MD_get_type(md);
	ok = (nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512) &&
	    (s->md != NULL || (s->md = EVP_MD_CTX_new()) != NULL) &&
	    EVP_DigestInit_ex2(s->md, md, NULL) == 1;
	EVP_MD_free(md);
	s->nid = ok ? nid : NID_undef;
	return ok;
}

static int
tlskey_sig_pad(struct tlskey_sig *s, const OSSL_PARAM *p)
{
	const char	*name;
	int		 pad;

	if (p->data_type == OSSL_PARAM_UTF8_STRING) {
		if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
			return 0;
		pad = strcmp(name, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ?
		    RSA_PKCS1_PADDING : strcmp(name,
		    OSSL_PKEY_RSA_PAD_MODE_PSS) == 0 ? RSA_PKCS1_PSS_PADDING :
		    0;
	} else if (OSSL_PARAM_get_int(p, &pad) != 1)
		return 0;
	if (s->key->family != TLSKEY_RSA_PKCS1 ||
	    (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_PSS_PADDING))
		return 0;
	s->pad = pad;
	return 1;
}

/* PSS salt: the digest's length, the only one TLS uses. */
static int
tlskey_sig_salt(struct tlskey_sig *s, const OSSL_PARAM *p)
{
	const char	*name;
	int		 n;

	if (p->data_type == OSSL_PARAM_UTF8_STRING)
		return OSSL_PARAM_get_utf8_string_ptr(p, &name) == 1 &&
		    strcmp(name, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0;
	if (OSSL_PARAM_get_int(p, &n) != 1 || (n != RSA_PSS_SALTLEN_DIGEST &&
	    (s->md == NULL || n != EVP_MD_CTX_get_size(s->md))))
		return 0;
	s->saltlen = n;
	return 1;
}

/* MGF1 with the signature's own digest, as TLS does. */
static int
tlskey_sig_mgf1(const struct tlskey_sig *s, const OSSL_PARAM *p)
{
	const char	*name;
	EVP_MD		*md;
	int		 ok;

	if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1 ||
	    (md = EVP_MD_fetch(NULL, name, TLSKEY_DEFAULT)) == NULL)
		return 0;
	ok = EVP_MD_get_type(md) == s->nid;
	EVP_MD_free(md);
	return ok;
}

static int
tlskey_sig_set(void *ctx, const OSSL_PARAM params[])
{
	struct tlskey_sig	*s = ctx;
	const OSSL_PARAM	*p;
	const char		*name;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST))
	    != NULL && (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1 ||
	    !tlskey_sig_digest(s, name)))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL && !tlskey_sig_pad(s, p))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
	    !tlskey_sig_salt(s, p))
		return 0;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL &&
	    !tlskey_sig_mgf1(s, p))
		return 0;
	return 1;
}

static const OSSL_PARAM *
tlskey_sig_settable(void *ctx, void *provctx)
{
	static const OSSL_PARAM	 settable[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL,
		    0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL,
		    0),
		OSSL_PARAM_END
	};

	(void)ctx;
	(void)provctx;
	return settable;
}

static int
tlskey_sig_init(void *ctx, const char *mdname, void *provkey,
    const OSSL_PARAM params[])
{
	struct tlskey_sig	*s = ctx;

	s->key = provkey;
	s->msglen = 0;
	s->saltlen = -1;
	s->pad = s->key != NULL && s->key->family == TLSKEY_RSA_PKCS1 ?
	    RSA_PKCS1_PADDING : 0;
	if (s->key == NULL || s->key->pub == NULL || s->key->handle == 0 ||
	    !tlskey_sig_digest(s, mdname))
		return 0;
	return tlskey_sig_set(s, params);
}

static int
tlskey_sig_update(void *ctx, const unsigned char *data, size_t len)
{
	struct tlskey_sig	*s = ctx;

	if (s->key->family != TLSKEY_ED25519)
		return EVP_DigestUpdate(s->md, data, len);
	if (len > sizeof(s->msg) - s->msglen)
		return 0;
	memcpy(s->msg + s->msglen, data, len);
	s->msglen += len;
	return 1;
}

static int
tlskey_sig_call(struct tlskey_sig *s, unsigned char *sig, size_t *siglen,
    size_t sigsize)
{
	struct tlskey_op	 op;
	unsigned char		 dgst[EVP_MAX_MD_SIZE];
	const unsigned char	*in = s->msg;
	unsigned		 dlen;
	size_t			 inlen = s->msglen;

	memset(&op, 0, sizeof(op));
	op.handle = s->key->handle;
	op.scheme = s->pad == RSA_PKCS1_PSS_PADDING ? TLSKEY_RSA_PSS :
	    s->key->family;
	op.md = s->nid;
	if (s->key->family != TLSKEY_ED25519) {
		if (EVP_DigestFinal_ex(s->md, dgst, &dlen) != 1)
			return 0;
		in = dgst;
		inlen = dlen;
		op.saltlen = op.scheme == TLSKEY_RSA_PSS ? (int32_t)dlen : 0;
	}
	if (tlskey_g.fn == NULL) {
		log_errorx("TLS: no way to the key manager");
		return 0;
	}
	return tlskey_g.fn(tlskey_g.arg, &op, in, inlen, sig, sigsize,
	    siglen) == 0;
}

static int
tlskey_sig_final(void *ctx, unsigned char *sig, size_t *siglen,
    size_t sigsize)
{
	struct tlskey_sig	*s = ctx;
	int			 n;

	if (sig == NULL) {
		n = EVP_PKEY_get_size(s->key->pub);
		*siglen = n > 0 ? (size_t)n : 0;
		return n > 0;
	}
	return tlskey_sig_call(s, sig, siglen, sigsize);
}

static int
tlskey_sig_oneshot(void *ctx, unsigned char *sig, size_t *siglen,
    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	if (sig != NULL && !tlskey_sig_update(ctx, tbs, tbslen))
		return 0;
	return tlskey_sig_final(ctx, sig, siglen, sigsize);
}

static const OSSL_DISPATCH tlskey_signature[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))tlskey_sig_new },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))tlskey_sig_free },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))tlskey_sig_dup },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	    (void (*)(void))tlskey_sig_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,
	    (void (*)(void))tlskey_sig_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
	    (void (*)(void))tlskey_sig_final },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN,
	    (void (*)(void))tlskey_sig_oneshot },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
	    (void (*)(void))tlskey_sig_set },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))tlskey_sig_settable },
	{ 0, NULL }
};

/*
 * The provider.
 */
static const OSSL_ALGORITHM tlskey_keymgmts[] = {
	{ "EC:id-ecPublicKey", TLSKEY_PROPS, tlskey_keymgmt_ec, NULL },
	{ "ED25519", TLSKEY_PROPS, tlskey_keymgmt_ed25519, NULL },
	{ "RSA:rsaEncryption", TLSKEY_PROPS, tlskey_keymgmt_rsa, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM tlskey_signatures[] = {
	{ "BULWARK-TLSKEY-ECDSA", TLSKEY_PROPS, tlskey_signature, NULL },
	{ "BULWARK-TLSKEY-ED25519", TLSKEY_PROPS, tlskey_signature, NULL },
	{ "BULWARK-TLSKEY-RSA", TLSKEY_PROPS, tlskey_signature, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
tlskey_query(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	if (op == OSSL_OP_KEYMGMT)
		return tlskey_keymgmts;
	if (op == OSSL_OP_SIGNATURE)
		return tlskey_signatures;
	return NULL;
}

static void
tlskey_teardown(void *provctx)
{
	(void)provctx;
}

static const OSSL_DISPATCH tlskey_provider[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))tlskey_query },
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))tlskey_teardown },
	{ 0, NULL }
};

static int
tlskey_provider_init(const OSSL_CORE_HANDLE *handle,
    const OSSL_DISPATCH *in, const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	*out = tlskey_provider;
	*provctx = &tlskey_g;
	return 1;
}

/* At exit, before OpenSSL's own clean-up (registered earlier). */
static void
tlskey_unload(void)
{
	if (tlskey_g.self != NULL)
		OSSL_PROVIDER_unload(tlskey_g.self);
	if (tlskey_g.dflt != NULL)
		OSSL_PROVIDER_unload(tlskey_g.dflt);
	tlskey_g.self = tlskey_g.dflt = NULL;
}

/*
 * Loading any provider explicitly stops the default one from loading
 * implicitly: both are loaded, and kept for the life of the process.
 */
int
tlskey_init(void)
{
	if (tlskey_g.loaded)
		return 0;
	if (OSSL_PROVIDER_add_builtin(NULL, TLSKEY_PROVIDER,
	    tlskey_provider_init) != 1 ||
	    (tlskey_g.dflt = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    (tlskey_g.self = OSSL_PROVIDER_load(NULL, TLSKEY_PROVIDER)) ==
	    NULL || EVP_set_default_properties(NULL, "?" TLSKEY_DEFAULT) != 1 ||
	    atexit(tlskey_unload) != 0) {
		tlskey_unload();
		ERR_clear_error();
		return -1;
	}
	tlskey_g.loaded = 1;
	return 0;
}

EVP_PKEY *
tlskey_pkey_new(uint32_t handle, const unsigned char *spki, size_t len,
    const char **err)
{
	const unsigned char	*p = spki;
	EVP_PKEY_CTX		*ctx = NULL;
	EVP_PKEY		*pub, *pk = NULL;
	OSSL_PARAM		 params[3];
	enum tlskey_scheme	 family = 0;

	*err = "unsupported key type (EC P-256, P-384, Ed25519 or RSA)";
	if (tlskey_init() == -1) {
		*err = "cannot load the TLS key provider";
		return NULL;
	}
	if (len <= LONG_MAX && (pub = d2i_PUBKEY_ex(NULL, &p, (long)len,
	    NULL, TLSKEY_DEFAULT)) != NULL) {
		family = tlskey_scheme_of(pub);
		EVP_PKEY_free(pub);
	}
	params[0] = OSSL_PARAM_construct_octet_string(TLSKEY_PARAM_SPKI,
	    (void *)spki, len);
	params[1] = OSSL_PARAM_construct_uint32(TLSKEY_PARAM_HANDLE, &handle);
	params[2] = OSSL_PARAM_construct_end();
	if (family != 0 && ((ctx = EVP_PKEY_CTX_new_from_name(NULL,
	    tlskey_type_name(family), TLSKEY_PROPS)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1)) {
		*err = "cannot make the TLS key";
		pk = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return pk;
}
