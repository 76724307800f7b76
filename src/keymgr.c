/*
 * keymgr.c - the key manager process (keymgr.h); the master's side is
 * keymgr_master.c, the workers' keymgr_client.c.
 *
 * Invariants: the master never parses an EdDSA or ES256 private key nor a
 * TLS private key: it reads the key files' bytes (checked by secret_open),
 * sends them to the key manager and wipes them.  The workers get public
 * keys only, plus the secret of an HS256 key (symmetric: who verifies can
 * sign; the documented exception); their TLS contexts hold the certificate
 * and a key of the bulwark-tlskey provider (public key and handle,
 * tlskey.h).  The key manager keeps at most KEYMGR_KEEP signing keys and
 * KEYMGR_TLS_KEEP TLS keys (keymgr_tls.c) and nothing else; every buffer
 * that held key bytes is wiped.
 *
 * Requests travel over the channels that exist (worker -> master -> key
 * manager) rather than over a socketpair per worker: the master already
 * supervises every worker's channel and kills a worker that sends what it
 * should not, a restarted worker or key manager needs no descriptor handed
 * around, and the key manager has one peer only (the master), so the
 * origin of a request cannot be forged.  The cost is one more hop through
 * the master's event loop per login.  Handshake signatures take the same
 * route but from a second pair per child (master_child.c), since the child
 * blocks on the answer (libssl signs synchronously): on its own pair it
 * reads nothing but answers to its signing requests, and the messages of
 * its main channel wait, unread and unlost, in their own socket.
 *
 * Threat model: workers face the network and may be compromised.  A
 * compromised worker can have any input signed with a loaded signing key
 * (it could mint tokens while it runs, as it can already act for any user
 * it serves) but cannot read the key: the key manager answers CHAN_SIGN
 * only, for a kid it holds, with an input of at most KEYMGR_INPUT_MAX
 * bytes, at most KEYMGR_RATE_MAX signatures per second over all workers
 * (so a flood delays logins but does not exhaust the key manager).  The
 * master relays requests and stamps them with the sender's pid; a message
 * it cannot take kills the worker.  The same holds for handshakes: a
 * compromised worker can have handshake-shaped inputs signed with the TLS
 * key while it runs (at most KEYMGR_TLS_RATE_MAX per second, checked as
 * keymgr_tls.c says) but cannot take the key to impersonate the server.  The key manager runs with the master's
 * credentials, no capabilities, not dumpable, no core files; it reads no
 * file and no network.  Anything unexpected on its channel ends it (the
 * master restarts it and hands it the key files again).  Before its first
 * message it loads a seccomp filter of its own (keymgr_sandbox.c,
 * sandbox_filter.c): no open, no socket, no execve, no fork.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "chan.h"
#include "jwt.h"
#include "keymgr.h"
#include "keys.h"
#include "log.h"
#include "util.h"

const char *
keymgr_status_text(enum keymgr_status st)
{
	switch (st) {
	case KEYMGR_OK:
		return "signed";
	case KEYMGR_UNKNOWN_KID:
		return "unknown signing key";
	case KEYMGR_TOO_LARGE:
		return "signing input too large";
	case KEYMGR_BUSY:
		return "signing rate exceeded";
	case KEYMGR_FAILED:
		return "signing failed";
	case KEYMGR_UNAVAILABLE:
		return "no key manager";
	case KEYMGR_TIMEOUT:
		return "the key manager did not answer in time";
	}
	return "?";
}

/*
 * The key manager.
 */
_Static_assert(KEYMGR_KEEP <= KEYS_SET_MAX, "kept keys fit a key set");

struct keymgr_state {
	struct keys_set	*set;			/* the newest first */
	struct keymgr_tls *tls;			/* keymgr_tls.c */
	struct keymgr_rate	 rate;
};

struct keymgr_state *
keymgr_state_new(void)
{
	struct keymgr_state	*s;

	s = bw_calloc(1, sizeof(*s));
	s->set = bw_calloc(1, sizeof(*s->set));
	s->tls = keymgr_tls_new();
	return s;
}

void
keymgr_state_free(struct keymgr_state *s)
{
	if (s == NULL)
		return;
	keys_set_free(s->set);
	keymgr_tls_free(s->tls);
	free(s);
}

/* Keeps a signing key, the newest first; the oldest goes. */
static void
keymgr_keep(struct keymgr_state *s, struct keys_key *k)
{
	struct keys_set	*set = s->set;
	size_t		 i;

	for (i = 0; i < set->nkeys; i++)
		if (strcmp(set->keys[i]->kid, k->kid) == 0)
			break;
	if (i < set->nkeys)
		keys_key_free(set->keys[i]);
	else if (set->nkeys == KEYMGR_KEEP)
		keys_key_free(set->keys[i = --set->nkeys]);
	memmove(&set->keys[1], &set->keys[0], i * sizeof(set->keys[0]));
	set->keys[0] = k;
	if (i == set->nkeys)
		set->nkeys++;
}

int
keymgr_file_open(const unsigned char *msg, size_t len,
    struct keymgr_file_hdr *fh, struct keymgr_public_hdr *ph)
{
	if (len < sizeof(*fh))
		return -1;
	memcpy(fh, msg, sizeof(*fh));
	memset(ph, 0, sizeof(*ph));
	ph->id = fh->id;
	return 0;
}

void
keymgr_file_answer(struct keymgr_public_hdr *ph, const char *err, size_t n,
    unsigned char *out, size_t *outlen)
{
	if (!ph->ok) {
		bw_strlcpy(ph->err, err, sizeof(ph->err));
		n = 0;
	}
	memcpy(out, ph, sizeof(*ph));
	*outlen = sizeof(*ph) + n;
}

static int
keymgr_file(struct keymgr_state *s, const unsigned char *msg, size_t len,
    unsigned char *out, size_t *outlen)
{
	struct keymgr_file_hdr	 fh;
	struct keymgr_public_hdr ph;
	struct keys_key		*k;
	const char		*err = "malformed key";
	size_t			 n = 0;

	if (keymgr_file_open(msg, len, &fh, &ph) == -1)
		return -1;
	if ((k = keys_key_parse(msg + sizeof(fh), len - sizeof(fh),
	    &err)) != NULL) {
		ph.alg = k->alg;
		ph.can_sign = k->can_sign;
		if (k->alg == KEYS_ALG_HS256) {
			memcpy(out + sizeof(ph), k->secret, k->secretlen);
			n = k->secretlen;
			ph.ok = 1;
		} else if (keys_key_spki(k, out + sizeof(ph), KEYS_SPKI_MAX,
		    &n) == 0)
			ph.ok = 1;
		else
			err = "cannot encode the public key";
	}
	keymgr_file_answer(&ph, err, n, out, outlen);
	if (k != NULL && ph.ok && fh.id == 0 && k->can_sign &&
	    k->alg != KEYS_ALG_HS256)
		keymgr_keep(s, k);
	else
		keys_key_free(k);
	return 1;
}

static const struct keys_key *
keymgr_find(const struct keymgr_state *s, const char *kid)
{
	return keys_set_find(s->set, kid, strlen(kid));
}

bool
keymgr_rate_take(struct keymgr_rate *r, uint32_t max, int64_t now_ms)
{
	if (now_ms / 1000 != r->window) {
		r->window = now_ms / 1000;
		r->count = 0;
	}
	if (r->count >= max)
		return false;
	r->count++;
	return true;
}

void
keymgr_sig_answer(const struct keymgr_sig_hdr *call, enum keymgr_status st,
    size_t siglen, unsigned char *out, size_t *outlen)
{
	struct keymgr_sig_hdr	 gh;

	memset(&gh, 0, sizeof(gh));
	gh.id = call->id;
	gh.origin = call->origin;
	gh.status = st;
	memcpy(out, &gh, sizeof(gh));
	*outlen = sizeof(gh) + (st == KEYMGR_OK ? siglen : 0);
}

static enum keymgr_status
keymgr_do_sign(struct keymgr_state *s, const struct keymgr_sign_hdr *sh,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t *siglen, int64_t now_ms)
{
	const struct keys_key	*k;

	if (inlen > KEYMGR_INPUT_MAX)
		return KEYMGR_TOO_LARGE;
	if (memchr(sh->kid, '\0', sizeof(sh->kid)) == NULL ||
	    (k = keymgr_find(s, sh->kid)) == NULL)
		return KEYMGR_UNKNOWN_KID;
	if (!keymgr_rate_take(&s->rate, KEYMGR_RATE_MAX, now_ms))
		return KEYMGR_BUSY;
	if (jwt_sign_bytes(k, (const char *)in, inlen, sig, siglen) == -1) {
		ERR_clear_error();
		return KEYMGR_FAILED;
	}
	return KEYMGR_OK;
}

int
keymgr_handle(struct keymgr_state *s, enum chan_type type,
    const unsigned char *msg, size_t len, enum chan_type *rtype,
    unsigned char *out, size_t *outlen, int64_t now_ms)
{
	struct keymgr_sign_hdr	 sh;
	enum keymgr_status	 st;
	size_t			 siglen = 0;

	switch (type) {
	case CHAN_KEY_FILE:
		*rtype = CHAN_KEY_PUBLIC;
		return keymgr_file(s, msg, len, out, outlen);
	case CHAN_SIGN:
		if (len < sizeof(sh))
			return -1;
		memcpy(&sh, msg, sizeof(sh));
		st = keymgr_do_sign(s, &sh, msg + sizeof(sh), len - sizeof(sh),
		    out + sizeof(struct keymgr_sig_hdr), &siglen, now_ms);
		keymgr_sig_answer(&sh.call, st, siglen, out, outlen);
		*rtype = CHAN_SIGNATURE;
		return 1;
	case CHAN_TLS_KEY:
		*rtype = CHAN_TLS_PUBLIC;
		return keymgr_tls_load(s->tls, msg, len, out, outlen);
	case CHAN_TLS_SIGN:
		*rtype = CHAN_TLS_SIGNATURE;
		return keymgr_tls_sign(s->tls, msg, len, out, outlen, now_ms);
	default:
		return -1;
	}
}

int
keymgr_main(int fd, enum conf_seccomp mode)
{
	static unsigned char	 in[CHAN_MAX_PAYLOAD], out[CHAN_MAX_PAYLOAD];
	struct keymgr_state	*s;
	enum chan_type		 type, rtype;
	const char		*err = NULL;
	size_t			 len, outlen;
	int			 rv, status = 3;

	log_set_procname("key manager");
	if (keymgr_confine(mode, &err) == -1) {
		log_errorx("key manager: %s", err);
		return 3;
	}
	s = keymgr_state_new();
	for (;;) {
		rv = chan_recv(fd, &type, in, sizeof(in), &len);
		if (rv == -1 && errno == EINTR)
			continue;
		if (rv == 0)
			status = 0;
		if (rv != 1)
			break;
		outlen = 0;
		rv = keymgr_handle(s, type, in, len, &rtype, out, &outlen,
		    bw_now_ms());
		bw_wipe(in, len);
		if (rv == -1) {
			log_errorx("key manager: unexpected message %u",
			    (unsigned)type);
			break;
		}
		if (rv == 1 && chan_send(fd, rtype, out, outlen) == -1)
			break;
		bw_wipe(out, outlen);
	}
	keymgr_state_free(s);
	return status;
}
