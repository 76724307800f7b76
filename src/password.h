/*
 * password.h - password policy, usernames, argon2id hashing and the
 * per-worker hashing pool (SPEC 8).
 *
 * Hashing is blocking and costs tens of milliseconds: the event loop never
 * calls password_hash() or password_verify() itself, it submits a job to
 * its password_pool and gets the result back on the loop thread.  The
 * blocking functions are for administration modes and the pool threads.
 */
#ifndef BW_PASSWORD_H
#define BW_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf_auth;
struct conf_argon2;
struct event_base;

/* Usernames: ^[a-z0-9][a-z0-9._@-]{0,63}$ after ASCII lowercasing. */
#define PASSWORD_USERNAME_MAX	64
/* Room for any PHC string this module writes or accepts, with the NUL. */
#define PASSWORD_PHC_MAX	192

#define PASSWORD_SALT_LEN	16
#define PASSWORD_HASH_LEN	32

/*
 * Bounds on the parameters of a stored hash.  A database row is not
 * trusted to be sane: a tampered m, t or p beyond these is refused before
 * any memory is allocated.  The upper bounds are the configuration's.
 */
#define PASSWORD_MAX_MEMORY_KIB	(256u * 1024u)
#define PASSWORD_MAX_ITERATIONS	10u
#define PASSWORD_MAX_LANES	4u

/* Longest password accepted in bytes: 4096 code points (max_length) of 4. */
#define PASSWORD_MAX_BYTES	16384u

/* Pool bounds: threads per worker (auth.password.pool_threads) and queue. */
#define PASSWORD_POOL_MAX_THREADS	64u
#define PASSWORD_POOL_MAX_QUEUE		4096u

/*
 * Argon2id parameters in the units of the PHC string: memory in KiB,
 * iterations (t) and lanes (p).
 */
struct password_params {
	uint32_t	 m_kib;
	uint32_t	 t;
	uint32_t	 p;
};

/* The configured parameters (memory bytes / 1024). */
void	 password_params_conf(const struct conf_argon2 *,
	    struct password_params *);

/*
 * Policy for a new password (creation, --set-password, /auth/password):
 * well-formed UTF-8, no C0 control (U+0000..U+001F), between min_length
 * and max_length code points.  Returns 0, or -1 with *err set to a static
 * message that may be shown to the client.
 */
int	 password_check_policy(const struct conf_auth *, const char *pw,
	    size_t len, const char **err);
/*
 * The check before a login attempt is hashed: the same rules except
 * min_length (a password set under an older, lower minimum still logs
 * in).  A password that fails here cannot match any stored hash and is
 * refused without hashing.
 */
int	 password_check_login(const struct conf_auth *, const char *pw,
	    size_t len, const char **err);

/*
 * Usernames: lowercases ASCII letters of in into out (outsz must be at
 * least PASSWORD_USERNAME_MAX + 1) and matches the SPEC 8 pattern.  The
 * _len form takes a length (a JSON string may hold U+0000, refused).
 */
bool	 password_username_valid(const char *in, char *out, size_t outsz);
bool	 password_username_valid_len(const char *in, size_t len, char *out,
	    size_t outsz);

/*
 * Blocking argon2id (argon2_ctx, threads = 1, lanes = p) with a fresh
 * 16-byte salt; writes "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" (standard
 * base64 without padding) into phc.  Returns 0 or -1 with *err set.
 */
int	 password_hash(const struct password_params *, const char *pw,
	    size_t len, char *phc, size_t phcsz, const char **err);

/*
 * Blocking verification of pw against a stored PHC string.  Returns 1 on
 * a match, 0 on a mismatch, -1 when the string is malformed or out of
 * bounds or hashing failed (*err set).  *needs_rehash (may be NULL) is set
 * on a match when the stored parameters, salt or hash length differ from
 * want.
 */
int	 password_verify(const struct password_params *want, const char *phc,
	    const char *pw, size_t len, bool *needs_rehash, const char **err);

/*
 * Unknown users are verified against a dummy hash of a random password,
 * made once with the configured parameters, so that neither the answer
 * nor the time taken tells whether a user exists.  password_dummy_verify()
 * runs password_verify() and always returns 0 (never a match) or -1.
 */
int	 password_dummy_new(const struct password_params *, char *phc,
	    size_t phcsz, const char **err);
int	 password_dummy_verify(const struct password_params *,
	    const char *dummy_phc, const char *pw, size_t len,
	    const char **err);

/* Argon2 computations run by this process so far (all threads). */
uint64_t password_argon2_runs(void);

/*
 * The per-worker pool.
 *
 * password_pool_new() creates its threads at once: a worker calls it
 * before it drops privileges and loads its seccomp filter, which is
 * installed with SCMP_FLTATR_CTL_TSYNC and so covers these threads too;
 * the threads never create others (argon2 runs with threads = 1).  They
 * block every signal.  Results come back on the event loop thread through
 * an eventfd watched by one event on the base: the base may be
 * EVENT_BASE_FLAG_NOLOCK, no libevent call is made from a pool thread.
 * The constructor also computes the dummy hash (blocking, once).
 *
 * password_pool_submit() copies pw (and phc) into the job; the copies are
 * wiped as soon as the thread is done with them.  It returns 0 and the
 * job in *jobp, or -1 (and NULL) when the queue holds max_queue jobs
 * waiting (the caller answers 503), when the pool is shutting down, or
 * when len exceeds PASSWORD_MAX_BYTES (callers check the policy first).
 * A phc that does not fit PASSWORD_PHC_MAX is a malformed hash: result -1.
 *
 * done(arg, result, needs_rehash, new_phc) runs on the loop thread:
 *   HASH    result 0 and new_phc, or -1;
 *   VERIFY  result 1 / 0 / -1 as password_verify(); on a match needing a
 *           rehash, new_phc holds a hash with the configured parameters
 *           (NULL if that failed);
 *   DUMMY   result 0 (or -1); phc is ignored.
 * new_phc is valid during the call only.  After done returns the job is
 * freed: the handle must not be used again.  done may submit and abandon
 * other jobs, but must not free the pool.
 *
 * password_job_abandon() (the client went away) may be called on a job
 * whose done has not run yet: a queued job is freed at once, a running or
 * finished one is freed by the loop thread when it comes back, and done
 * is never called.  Jobs are only ever freed on the loop thread.
 *
 * password_pool_free() stops the threads after their current job, joins
 * them and frees every job still held without calling done: the worker
 * frees the pool after its connections are gone.
 */
enum password_op {
	PASSWORD_OP_HASH,
	PASSWORD_OP_VERIFY,
	PASSWORD_OP_DUMMY,
};

struct password_pool;
struct password_job;

struct password_pool *password_pool_new(struct event_base *,
		    const struct conf_auth *, unsigned threads,
		    unsigned max_queue, const char **err);
int		 password_pool_submit(struct password_pool *, enum password_op,
		    const char *phc, const char *pw, size_t len,
		    void (*done)(void *, int, bool, const char *), void *arg,
		    struct password_job **jobp);
void		 password_job_abandon(struct password_job *);
void		 password_pool_free(struct password_pool *);

/* Jobs waiting for a thread and jobs in flight (queued + running + done). */
unsigned	 password_pool_queued(struct password_pool *);
unsigned	 password_pool_inflight(struct password_pool *);

#endif
