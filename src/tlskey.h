/*
 * tlskey.h - the TLS private key as a handle (SPEC 11): an in-process
 * OpenSSL 3 provider, "bulwark-tlskey", whose keys are a public key plus a
 * handle naming the private key in the key manager (keymgr.h).  libssl
 * takes such a key like any other (SSL_CTX_use_PrivateKey); when a full
 * handshake needs a signature (CertificateVerify, TLS 1.2
 * ServerKeyExchange) the provider hashes the input locally where the
 * algorithm allows (ECDSA, RSA: the digest and the padding parameters go
 * out) or passes the whole message (Ed25519) to a transport function,
 * which gets the signature from the key manager.  Every query about the
 * public part is answered from the public key.
 *
 * The transport blocks: libssl signs synchronously and bufferevent_openssl
 * cannot resume an SSL_ERROR_WANT_ASYNC, so a full handshake waits for one
 * round trip, at most TLSKEY_DEADLINE_MS; without an answer by then the
 * handshake fails.  Resumed handshakes sign nothing.
 */
#ifndef BW_TLSKEY_H
#define BW_TLSKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/*
 * The longest a handshake waits for its signature.  A loaded key manager
 * answers in well under a millisecond (an RSA-2048 signature takes about
 * one); 500 ms covers a busy machine and a key manager restarting
 * (KEYMGR_RESTART_MS) while a stalled key manager costs a client half a
 * second, not the worker's other connections for longer.
 */
#define TLSKEY_DEADLINE_MS	500
#define TLSKEY_INPUT_MAX	1024	/* an Ed25519 message: TLS needs ~200 */
#define TLSKEY_SIG_MAX		1024	/* RSA-8192 */
#define TLSKEY_PROVIDER		"bulwark-tlskey"

enum tlskey_scheme {
	TLSKEY_ECDSA = 1,	/* input: the digest (md) */
	TLSKEY_ED25519,		/* input: the message; md NID_undef */
	TLSKEY_RSA_PKCS1,	/* input: the digest (md) */
	TLSKEY_RSA_PSS,		/* input: the digest; MGF1 with md too */
};

/* One signing operation, as it travels to the key manager. */
struct tlskey_op {
	uint32_t	 handle;	/* the key manager's name of the key */
	uint32_t	 scheme;	/* enum tlskey_scheme */
	int32_t		 md;		/* digest NID, or NID_undef */
	int32_t		 saltlen;	/* RSA-PSS: bytes (the digest's) */
};

/*
 * The transport: returns 0 with the signature in sig (*siglen bytes, at
 * most sigsize), or -1 (no answer in time, refused, malformed); it logs
 * why.  Installed once per process.
 */
typedef int	 (*tlskey_transport_fn)(void *arg, const struct tlskey_op *,
		    const unsigned char *in, size_t inlen, unsigned char *sig,
		    size_t sigsize, size_t *siglen);

/*
 * Registers and loads the provider next to the default provider in the
 * default library context; other fetches keep preferring the default
 * provider.  Idempotent; 0 or -1.
 */
int		 tlskey_init(void);
void		 tlskey_set_transport(tlskey_transport_fn, void *arg);

/*
 * A key for libssl: the public key of SubjectPublicKeyInfo DER spki and
 * the key manager's handle.  Only EC P-256 and P-384, Ed25519 and RSA.
 * NULL with *err set.
 */
EVP_PKEY	*tlskey_pkey_new(uint32_t handle, const unsigned char *spki,
		    size_t len, const char **err);
/* The scheme family of a key type (a parsed private key's too), or 0. */
enum tlskey_scheme tlskey_scheme_of(const EVP_PKEY *);

#endif
