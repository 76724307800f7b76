/*
 * keymgr.h - the key manager: a child of the master, with the master's
 * credentials, that alone holds the parsed private key of auth's JWT
 * signing key and the TLS private keys, signs access tokens for the
 * workers and signs the handshakes of the workers and the admin listener
 * (SPEC 11).
 *
 * Three parts:
 *  - the key manager itself (keymgr.c: keymgr_state, keymgr_handle,
 *    keymgr_main):
 *    it parses the key files whose bytes the master sends (CHAN_KEY_FILE),
 *    answers each with its public part (CHAN_KEY_PUBLIC: SPKI DER, or the
 *    secret of an HS256 key, which the workers must hold anyway), keeps the
 *    last KEYMGR_KEEP signing keys (so that the workers of an older
 *    generation still get their tokens signed during a reload) and answers
 *    CHAN_SIGN requests with CHAN_SIGNATURE;
 *  - the master's side (keymgr_master.c): it forks and
 *    restarts the key manager, reads the key files' bytes, hands them over,
 *    wipes them and builds the workers' key set from the public parts
 *    (keymgr_keys), and relays signing requests from workers;
 *  - the worker's side (keymgr_client.c): asynchronous signing calls on
 *    the worker's event loop, each with a deadline.
 *
 * Requests go worker -> master -> key manager over the channels that
 * exist already: the master stamps each with the worker's pid (a worker
 * cannot speak for another), checks its size, and routes the answer back.
 */
#ifndef BW_KEYMGR_H
#define BW_KEYMGR_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "conf.h"
#include "keys.h"
#include "tlskey.h"

struct conf;
struct event_base;

#define KEYMGR_INPUT_MAX	16384	/* bytes of a signing input */
#define KEYMGR_SIG_MAX		64	/* Ed25519, ES256 raw r||s */
#define KEYMGR_KEEP		4	/* signing keys kept */
#define KEYMGR_RATE_MAX		2000	/* signatures per second */
#define KEYMGR_PENDING_MAX	256	/* calls in flight per worker */
#define KEYMGR_DEADLINE_MS	1000	/* a call without answer fails */
#define KEYMGR_LOAD_MS		5000	/* the master waits for the keys */
#define KEYMGR_RESTART_MS	100	/* after it died */
#define KEYMGR_RETRY_MS		1000	/* after a failed restart */
#define KEYMGR_TLS_KEEP		8	/* TLS keys kept: main and admin of
					   the generations that live */
#define KEYMGR_TLS_RATE_MAX	20000	/* handshake signatures per second */
#define KEYMGR_TLS_PAUSE_MS	1000	/* no calls after a timeout */
#define KEYMGR_TLS_FILE_MAX	KEYS_FILE_MAX	/* a TLS key file */
#define KEYMGR_TLS_SPKI_MAX	4096	/* its public key (RSA-16384 fits) */

enum keymgr_status {
	KEYMGR_OK = 0,
	KEYMGR_UNKNOWN_KID,	/* no such signing key */
	KEYMGR_TOO_LARGE,	/* input over KEYMGR_INPUT_MAX */
	KEYMGR_BUSY,		/* over KEYMGR_RATE_MAX */
	KEYMGR_FAILED,		/* the key manager could not sign */
	KEYMGR_UNAVAILABLE,	/* no key manager (master) */
	KEYMGR_TIMEOUT,		/* no answer in time (worker) */
};

/*
 * CHAN_KEY_FILE and CHAN_TLS_KEY: this header, then the file's bytes.
 * id: a JWT key's index (0: the signing key) of count; a TLS key's handle,
 * chosen by the master and never 0 (count unused).
 */
struct keymgr_file_hdr {
	uint32_t	 id;
	uint32_t	 count;
};

/*
 * CHAN_KEY_PUBLIC and CHAN_TLS_PUBLIC: this header, then SPKI DER (or an
 * HS256 secret).  alg and can_sign describe JWT keys only.
 */
#define KEYMGR_ERR_MAX		96
struct keymgr_public_hdr {
	uint32_t	 id;		/* the file's */
	uint32_t	 ok;
	uint32_t	 alg;		/* enum keys_alg */
	uint32_t	 can_sign;
	char		 err[KEYMGR_ERR_MAX];
};

/*
 * CHAN_SIGNATURE and CHAN_TLS_SIGNATURE: this header, then the signature.
 * Every request starts with one too (status unused): the master stamps
 * origin in place whatever the request.
 */
struct keymgr_sig_hdr {
	uint64_t	 id;		/* the worker's call */
	uint32_t	 origin;	/* set by the master: the worker's pid */
	uint32_t	 status;	/* enum keymgr_status */
};

/* CHAN_SIGN: this header, then the signing input. */
struct keymgr_sign_hdr {
	struct keymgr_sig_hdr	 call;
	char			 kid[KEYS_KID_LEN + 5];	/* NUL-terminated */
};

/*
 * CHAN_TLS_SIGN: this header, then the input (a digest, or an Ed25519
 * message).
 */
struct keymgr_tls_sign_hdr {
	struct keymgr_sig_hdr	 call;
	struct tlskey_op	 op;
};

const char	*keymgr_status_text(enum keymgr_status);

/*
 * The key manager.  keymgr_handle() answers one message: 1 with the reply
 * in out (*rtype, *outlen), 0 when there is none, -1 for a message it
 * does not take (the key manager then exits).  now_ms drives the rate.
 */
struct keymgr_state;
struct keymgr_state	*keymgr_state_new(void);
void			 keymgr_state_free(struct keymgr_state *);
int			 keymgr_handle(struct keymgr_state *, enum chan_type,
			    const unsigned char *msg, size_t len,
			    enum chan_type *rtype, unsigned char *out,
			    size_t *outlen, int64_t now_ms);
/*
 * A key file's message (CHAN_KEY_FILE, CHAN_TLS_KEY) and its answer, for
 * both kinds of key: keymgr_file_open() reads the header (-1: too short)
 * and starts the answer's; keymgr_file_answer() completes it, ok or with
 * err, in front of the n bytes of public part already at out + sizeof(*ph).
 */
int			 keymgr_file_open(const unsigned char *msg, size_t len,
			    struct keymgr_file_hdr *, struct keymgr_public_hdr *);
void			 keymgr_file_answer(struct keymgr_public_hdr *,
			    const char *err, size_t n, unsigned char *out,
			    size_t *outlen);
/*
 * What the key manager's two signers share: a per-second rate bound
 * (keymgr_rate_take: false once max were taken this second) and the
 * answer to a signing request, its header in front of the siglen bytes
 * of signature already at out + sizeof(struct keymgr_sig_hdr) (none
 * unless KEYMGR_OK).
 */
struct keymgr_rate {
	int64_t		 window;	/* second of the count */
	uint32_t	 count;
};
bool			 keymgr_rate_take(struct keymgr_rate *, uint32_t max,
			    int64_t now_ms);
void			 keymgr_sig_answer(const struct keymgr_sig_hdr *call,
			    enum keymgr_status, size_t siglen,
			    unsigned char *out, size_t *outlen);
/*
 * The key manager's TLS keys (keymgr_tls.c): CHAN_TLS_KEY keeps a key
 * under the master's handle and answers CHAN_TLS_PUBLIC; CHAN_TLS_SIGN is
 * answered with CHAN_TLS_SIGNATURE.  Both return 1 with the answer in out,
 * or -1 for a message too short to answer.
 */
struct keymgr_tls;
struct keymgr_tls	*keymgr_tls_new(void);
void			 keymgr_tls_free(struct keymgr_tls *);
int			 keymgr_tls_load(struct keymgr_tls *,
			    const unsigned char *msg, size_t len,
			    unsigned char *out, size_t *outlen);
int			 keymgr_tls_sign(struct keymgr_tls *,
			    const unsigned char *msg, size_t len,
			    unsigned char *out, size_t *outlen, int64_t now_ms);
/* Every TLS key type's paths run once, before the filter; 0 or -1. */
int			 keymgr_tls_warm_up(const char **err);
/*
 * The child's main loop on its channel, confined first (keymgr_confine
 * with security.seccomp's mode); returns the exit status.
 */
int			 keymgr_main(int fd, enum conf_seccomp);
/*
 * keymgr_sandbox.c: hardening, OpenSSL's lazy initialisation done ahead,
 * then the key manager's seccomp filter (SANDBOX_KEYMGR).  -1 with *err.
 */
int			 keymgr_confine(enum conf_seccomp, const char **err);

/*
 * The master's side.  reply(arg, pid, type, msg, len) passes a
 * CHAN_SIGNATURE or CHAN_TLS_SIGNATURE on to the child of that pid.
 * keymgr_keys() starts the key manager if none runs, hands it the key
 * files of conf's auth section and returns the workers' key set (public
 * keys and HS256 secrets); on error *errpath names the file at fault.  keymgr_forward() relays a worker's CHAN_SIGN
 * or CHAN_TLS_SIGN: -1 when the message is malformed (the worker is then
 * killed).
 */
typedef void	 (*keymgr_reply_fn)(void *arg, pid_t, enum chan_type,
		    const void *, size_t);
void			 keymgr_attach(struct event_base *, keymgr_reply_fn,
			    void *arg);
struct keys_set		*keymgr_keys(const struct conf *, const char **err,
			    const char **errpath);
/* The configuration whose keys a restarted key manager gets. */
void			 keymgr_conf(const struct conf *);
int			 keymgr_forward(pid_t origin, enum chan_type,
			    const void *msg, size_t len);
/*
 * A TLS private key file through the key manager: the key for libssl
 * (tlskey.h), under a new handle that a restarted key manager gets again;
 * NULL with *err set.
 */
EVP_PKEY		*keymgr_tls_key(const struct conf *, const char *path,
			    const char **err);
bool			 keymgr_reaped(pid_t, int status);
pid_t			 keymgr_pid(void);
/* In a child of the master: closes the master's end of the channel. */
void			 keymgr_close_inherited(void);
void			 keymgr_stop(void);

/*
 * The worker's side.  keymgr_sign() sends one request and returns 0, or -1
 * when it cannot (too many in flight, the channel full); cb is then never
 * called.  Otherwise cb(arg, status, sig, siglen) is called once, with
 * KEYMGR_TIMEOUT after deadline_ms, unless keymgr_cancel(client, handle)
 * came first.  keymgr_client_answer() takes a CHAN_SIGNATURE.
 */
typedef void	 (*keymgr_sign_cb)(void *arg, enum keymgr_status,
		    const unsigned char *sig, size_t siglen);
struct keymgr_client;
struct keymgr_client	*keymgr_client_new(struct event_base *, int chan_fd,
			    int deadline_ms);
void			 keymgr_client_free(struct keymgr_client *);
int			 keymgr_sign(struct keymgr_client *, const char *kid,
			    const void *input, size_t len, keymgr_sign_cb,
			    void *arg, uint64_t *handle);
void			 keymgr_cancel(struct keymgr_client *, uint64_t handle);
int			 keymgr_client_answer(struct keymgr_client *,
			    const void *msg, size_t len);

/*
 * The child's side of handshake signatures: keymgr_tls_client_set()
 * installs keymgr_tls_call() as tlskey's transport on fd, the child's end
 * of its signing pair (master_child.c).  keymgr_tls_call() sends one
 * CHAN_TLS_SIGN and waits at most deadline_ms for its answer, dropping
 * stale answers (of requests that timed out before); 0 with the
 * signature, or -1 (logged).  After a timeout, calls fail at once for
 * KEYMGR_TLS_PAUSE_MS: a stalled key manager costs a worker one deadline
 * per pause, not one per queued handshake.
 */
struct keymgr_tls_client {
	int		 fd;
	int		 deadline_ms;
	uint64_t	 next_id;
	int64_t		 pause_until;	/* after a timeout: fail at once */
};
void			 keymgr_tls_client_set(int fd, int deadline_ms);
int			 keymgr_tls_call(void *client, const struct tlskey_op *,
			    const unsigned char *in, size_t inlen,
			    unsigned char *sig, size_t sigsize, size_t *siglen);

#endif
