/*
 * keymgr_sandbox.c - how the key manager confines itself before it reads
 * its first message (keymgr.h): process hardening (sandbox_harden), a
 * warm-up of everything OpenSSL initialises lazily, then its own seccomp
 * filter (SANDBOX_KEYMGR, sandbox_filter.c).
 *
 * Invariant: once keymgr_confine() returned 0 the key manager can open no
 * file and create no socket, so every path its requests take must have
 * run once before.  OpenSSL loads its configuration file and providers,
 * fetches decoders, signature and digest implementations and instantiates
 * its DRBG (seeded by getrandom, reseeded after fork) on first use; the
 * warm-up parses a fresh key of each kind the key manager signs with
 * (PKCS#8 PEM of Ed25519 and P-256) exactly as a CHAN_KEY_FILE is parsed,
 * encodes its public part and signs with it as CHAN_SIGN does.  An HS256
 * secret needs nothing more: its parse computes the same SHA-256
 * thumbprint as theirs, and the key manager never signs with it.
 * The TLS keys' paths (every type, every scheme) are warmed up by
 * keymgr_tls_warm_up() the same way.
 * A kind added to keymgr_handle() must be added here, or its first use
 * kills the key manager (SIGSYS) under security.seccomp: enforce.
 *
 * Threat model: the warm-up keys are random, never leave this process and
 * are wiped and freed before the filter is loaded.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "jwt.h"
#include "keymgr.h"
#include "keys.h"
#include "sandbox.h"
#include "util.h"

/* The kinds of key keymgr_handle() signs with. */
static const char *const keymgr_sandbox_kinds[] = {
	"ed25519", "es256",
};

/* One kind through the key manager's own paths: parse, SPKI, sign. */
static int
keymgr_sandbox_warm_kind(const char *kind, const char **err)
{
	static const char	 tbs[] = "warm-up";
	unsigned char		*buf, spki[KEYS_SPKI_MAX], sig[JWT_SIG_MAX];
	struct keys_key		*k;
	size_t			 len, n = 0;
	int			 rv = 0;

	if ((buf = keys_gen_bytes(kind, &len, err)) == NULL)
		return -1;
	k = keys_key_parse(buf, len, err);
	bw_wipe(buf, KEYS_FILE_MAX);
	free(buf);
	if (k == NULL)
		return -1;
	if (keys_key_spki(k, spki, sizeof(spki), &n) == -1 ||
	    jwt_sign_bytes(k, tbs, sizeof(tbs) - 1, sig, &n) == -1) {
		*err = "cannot sign with a fresh key";
		rv = -1;
	}
	bw_wipe(sig, sizeof(sig));
	keys_key_free(k);
	ERR_clear_error();
	return rv;
}

static int
keymgr_sandbox_warm_up(const char **err)
{
	unsigned char	 b[32];
	size_t		 i;

	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 ||
	    RAND_bytes(b, sizeof(b)) != 1) {
		*err = "cannot initialise OpenSSL";
		return -1;
	}
	bw_wipe(b, sizeof(b));
	for (i = 0; i < BW_ARRAY_LEN(keymgr_sandbox_kinds); i++)
		if (keymgr_sandbox_warm_kind(keymgr_sandbox_kinds[i],
		    err) == -1)
			return -1;
	return keymgr_tls_warm_up(err);
}

int
keymgr_confine(enum conf_seccomp mode, const char **err)
{
	if (sandbox_harden(err) == -1 || keymgr_sandbox_warm_up(err) == -1)
		return -1;
	return sandbox_seccomp(SANDBOX_KEYMGR, mode, err);
}
