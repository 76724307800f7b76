/*
 * password.c - password policy, usernames, argon2id and the hashing pool.
 *
 * Threat model.  Passwords arrive from the network and are secrets: every
 * copy this module makes (job input, derived hashes) is wiped with
 * bw_wipe() once used, and hashes are compared with bw_ct_equal() only.
 * Stored PHC strings come from the database, which is not trusted to be
 * sane: the parser is strict (one canonical spelling, argon2id v=19 only)
 * and bounds m, t and p before anything is allocated, so a tampered row
 * cannot make a worker allocate gigabytes or loop for minutes.
 *
 * Policy decisions.  SPEC 8 forbids C0 controls: U+0000..U+001F are
 * refused.  DEL (U+007F) and the C1 range are not C0 and are accepted as
 * the contract names C0 only; a password is never displayed, so they are
 * harmless.  Lengths count code points, nothing is truncated or
 * normalized: the bytes given are the bytes hashed.
 *
 * Argon2 runs through argon2_ctx() with threads = 1 and lanes = p: the
 * library never starts a thread of its own, which the worker's seccomp
 * filter would not let it do anyway.
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <argon2.h>
#include <event2/event.h>

#include "conf.h"
#include "password.h"
#include "util.h"

#define PASSWORD_SALT_MIN	8
#define PASSWORD_SALT_MAX	64
#define PASSWORD_OUT_MIN	16
#define PASSWORD_OUT_MAX	64
#define PASSWORD_PHC_PREFIX	"$argon2id$v=19$"

static _Atomic uint64_t	 password_runs;

/*
 * Policy
 */
static int
password_check(const struct conf_auth *a, const char *pw, size_t len,
    bool login, const char **err)
{
	size_t	 i, cp;

	if (len > PASSWORD_MAX_BYTES ||
	    len > (size_t)a->password_max_length * 4) {
		*err = "password is too long";
		return -1;
	}
	if (!bw_utf8_valid(pw, len)) {
		*err = "password is not valid UTF-8";
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)pw[i] < 0x20) {
			*err = "password contains a control character";
			return -1;
		}
	cp = bw_utf8_len(pw, len);
	if (cp > a->password_max_length) {
		*err = "password is too long";
		return -1;
	}
	if (!login && cp < a->password_min_length) {
		*err = "password is too short";
		return -1;
	}
	return 0;
}

int
password_check_policy(const struct conf_auth *a, const char *pw, size_t len,
    const char **err)
{
	return password_check(a, pw, len, false, err);
}

int
password_check_login(const struct conf_auth *a, const char *pw, size_t len,
    const char **err)
{
	return password_check(a, pw, len, true, err);
}

/*
 * Usernames
 */
static bool
password_username_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '@' || c == '-');
}

bool
password_username_valid_len(const char *in, size_t len, char *out,
    size_t outsz)
{
	size_t	 i;
	char	 c;

	if (outsz > 0)
		out[0] = '\0';
	if (len == 0 || len > PASSWORD_USERNAME_MAX || outsz <= len)
		return false;
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!password_username_char(c, i == 0)) {
			out[0] = '\0';
			return false;
		}
		out[i] = c;
	}
	out[len] = '\0';
	return true;
}

bool
password_username_valid(const char *in, char *out, size_t outsz)
{
	return password_username_valid_len(in, strnlen(in,
	    PASSWORD_USERNAME_MAX + 1), out, outsz);
}

/*
 * PHC strings
 */
struct password_phc {
	struct password_params	 pp;
	uint8_t			 salt[PASSWORD_SALT_MAX];
	size_t			 saltlen;
	uint8_t			 hash[PASSWORD_OUT_MAX];
	size_t			 hashlen;
};

void
password_params_conf(const struct conf_argon2 *c, struct password_params *pp)
{
	pp->m_kib = (uint32_t)(c->memory / 1024 > UINT32_MAX ? UINT32_MAX :
	    c->memory / 1024);
	pp->t = c->iterations;
	pp->p = c->parallelism;
}

static bool
password_params_ok(const struct password_params *pp)
{
	return pp->p >= 1 && pp->p <= PASSWORD_MAX_LANES &&
	    pp->t >= 1 && pp->t <= PASSWORD_MAX_ITERATIONS &&
	    pp->m_kib >= 8 * pp->p && pp->m_kib <= PASSWORD_MAX_MEMORY_KIB;
}

/* "KEY=N" then sep: decimal, no sign, no leading zero, at most max. */
static const char *
password_phc_uint(const char *s, char key, char sep, uint32_t max,
    uint32_t *out)
{
	uint64_t	 v = 0;
	const char	*p = s + 2;

	if (s[0] != key || s[1] != '=' || *p < '0' || *p > '9' ||
	    (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return NULL;
	}
	if (*p != sep)
		return NULL;
	*out = (uint32_t)v;
	return p + 1;
}

static int
password_phc_parse(const char *phc, struct password_phc *h)
{
	const char	*s, *d;

	if (strncmp(phc, PASSWORD_PHC_PREFIX, strlen(PASSWORD_PHC_PREFIX)) != 0)
		return -1;
	s = phc + strlen(PASSWORD_PHC_PREFIX);
	if ((s = password_phc_uint(s, 'm', ',', PASSWORD_MAX_MEMORY_KIB,
	    &h->pp.m_kib)) == NULL ||
	    (s = password_phc_uint(s, 't', ',', PASSWORD_MAX_ITERATIONS,
	    &h->pp.t)) == NULL ||
	    (s = password_phc_uint(s, 'p', '$', PASSWORD_MAX_LANES,
	    &h->pp.p)) == NULL || !password_params_ok(&h->pp))
		return -1;
	if ((d = strchr(s, '$')) == NULL ||
	    bw_b64_decode(s, (size_t)(d - s), h->salt, sizeof(h->salt),
	    &h->saltlen) == -1 || h->saltlen < PASSWORD_SALT_MIN)
		return -1;
	s = d + 1;
	if (bw_b64_decode(s, strnlen(s, PASSWORD_PHC_MAX), h->hash,
	    sizeof(h->hash), &h->hashlen) == -1 ||
	    h->hashlen < PASSWORD_OUT_MIN)
		return -1;
	return 0;
}

static int
password_phc_format(const struct password_params *pp, const uint8_t *salt,
    size_t saltlen, const uint8_t *hash, size_t hashlen, char *phc,
    size_t phcsz)
{
	char	 bs[PASSWORD_SALT_MAX * 2], bh[PASSWORD_OUT_MAX * 2];
	int	 n;

	bw_b64_encode(salt, saltlen, bs);
	bw_b64_encode(hash, hashlen, bh);
	n = snprintf(phc, phcsz, "%sm=%u,t=%u,p=%u$%s$%s", PASSWORD_PHC_PREFIX,
	    pp->m_kib, pp->t, pp->p, bs, bh);
	bw_wipe(bh, sizeof(bh));
	if (n < 0 || (size_t)n >= phcsz) {
		bw_wipe(phc, phcsz);
		return -1;
	}
	return 0;
}

/*
 * Argon2id
 */
static int
password_argon2(const struct password_params *pp, const char *pw, size_t len,
    const uint8_t *salt, size_t saltlen, uint8_t *out, size_t outlen)
{
	argon2_context	 ctx;
	int		 rc;

	if (!password_params_ok(pp) || len > PASSWORD_MAX_BYTES)
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = (uint32_t)outlen;
	ctx.pwd = (uint8_t *)pw;
	ctx.pwdlen = (uint32_t)len;
	ctx.salt = (uint8_t *)salt;
	ctx.saltlen = (uint32_t)saltlen;
	ctx.t_cost = pp->t;
	ctx.m_cost = pp->m_kib;
	ctx.lanes = pp->p;
	ctx.threads = 1;
	ctx.version = ARGON2_VERSION_13;
	ctx.flags = ARGON2_DEFAULT_FLAGS;
	atomic_fetch_add(&password_runs, 1);
	rc = argon2_ctx(&ctx, Argon2_id);
	if (rc != ARGON2_OK) {
		bw_wipe(out, outlen);
		return -1;
	}
	return 0;
}

uint64_t
password_argon2_runs(void)
{
	return atomic_load(&password_runs);
}

int
password_hash(const struct password_params *pp, const char *pw, size_t len,
    char *phc, size_t phcsz, const char **err)
{
	uint8_t	 salt[PASSWORD_SALT_LEN], out[PASSWORD_HASH_LEN];
	int	 rv = -1;

	if (bw_random(salt, sizeof(salt)) == -1)
		*err = "no random salt";
	else if (password_argon2(pp, pw, len, salt, sizeof(salt), out,
	    sizeof(out)) == -1)
		*err = "argon2id failed (parameters or memory)";
	else if (password_phc_format(pp, salt, sizeof(salt), out, sizeof(out),
	    phc, phcsz) == -1)
		*err = "hash buffer too small";
	else
		rv = 0;
	bw_wipe(out, sizeof(out));
	return rv;
}

int
password_verify(const struct password_params *want, const char *phc,
    const char *pw, size_t len, bool *needs_rehash, const char **err)
{
	struct password_phc	 h;
	uint8_t			 out[PASSWORD_OUT_MAX];
	int			 rv;

	if (needs_rehash != NULL)
		*needs_rehash = false;
	if (password_phc_parse(phc, &h) == -1) {
		*err = "malformed or out of bounds password hash";
		return -1;
	}
	if (password_argon2(&h.pp, pw, len, h.salt, h.saltlen, out,
	    h.hashlen) == -1) {
		*err = "argon2id failed (parameters or memory)";
		bw_wipe(&h, sizeof(h));
		return -1;
	}
	rv = bw_ct_equal(out, h.hash, h.hashlen) ? 1 : 0;
	if (rv == 1 && needs_rehash != NULL)
		*needs_rehash = h.pp.m_kib != want->m_kib ||
		    h.pp.t != want->t || h.pp.p != want->p ||
		    h.saltlen != PASSWORD_SALT_LEN ||
		    h.hashlen != PASSWORD_HASH_LEN;
	bw_wipe(out, sizeof(out));
	bw_wipe(&h, sizeof(h));
	return rv;
}

int
password_dummy_new(const struct password_params *pp, char *phc, size_t phcsz,
    const char **err)
{
	uint8_t	 rnd[32];
	char	 pw[sizeof(rnd) * 2 + 1];
	int	 rv;

	if (bw_random(rnd, sizeof(rnd)) == -1) {
		*err = "no random dummy password";
		return -1;
	}
	bw_hex_encode(rnd, sizeof(rnd), pw);
	rv = password_hash(pp, pw, strlen(pw), phc, phcsz, err);
	bw_wipe(rnd, sizeof(rnd));
	bw_wipe(pw, sizeof(pw));
	return rv;
}

int
password_dummy_verify(const struct password_params *pp, const char *dummy_phc,
    const char *pw, size_t len, const char **err)
{
	return password_verify(pp, dummy_phc, pw, len, NULL, err) == -1 ?
	    -1 : 0;
}

/*
 * The pool.
 *
 * Invariants (all under pool->mtx, except where the loop thread owns a
 * job alone):
 *  - a job is on exactly one of: queue (QUEUED), no list (RUNNING, owned
 *    by one pool thread), done (DONE), the loop thread's local batch
 *    (DONE, being delivered) or none (CALLBACK, inside done());
 *  - only the loop thread frees jobs, so a thread finishing an abandoned
 *    job merely hands it back; nqueued <= max_queue;
 *  - pool threads touch no libevent object: they write the eventfd.
 */
enum password_job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
	JOB_CALLBACK,
};

struct password_job {
	TAILQ_ENTRY(password_job) entry;
	struct password_pool	*pool;
	enum password_op	 op;
	enum password_job_state	 state;
	bool			 abandoned;
	char			*pw;		/* secret: wiped after use */
	size_t			 pwlen;
	char			 phc[PASSWORD_PHC_MAX];
	void			(*done)(void *, int, bool, const char *);
	void			*arg;
	int			 result;
	bool			 needs_rehash;
	bool			 have_new;
	char			 new_phc[PASSWORD_PHC_MAX];
};

TAILQ_HEAD(password_jobq, password_job);

struct password_pool {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct password_jobq	 queue;
	struct password_jobq	 done;
	unsigned		 nqueued;
	unsigned		 ninflight;
	unsigned		 max_queue;
	bool			 closing;
	pthread_t		*threads;
	unsigned		 nthreads;
	int			 efd;
	struct event		*ev;
	struct password_params	 params;
	char			 dummy[PASSWORD_PHC_MAX];
};

static void
password_job_free(struct password_job *job)
{
	if (job->pw != NULL) {
		bw_wipe(job->pw, job->pwlen + 1);
		free(job->pw);
	}
	bw_wipe(job, sizeof(*job));
	free(job);
}

static void
password_job_run(struct password_pool *pool, struct password_job *job)
{
	const char	*err;

	switch (job->op) {
	case PASSWORD_OP_HASH:
		job->result = password_hash(&pool->params, job->pw, job->pwlen,
		    job->new_phc, sizeof(job->new_phc), &err);
		job->have_new = job->result == 0;
		break;
	case PASSWORD_OP_VERIFY:
		job->result = password_verify(&pool->params, job->phc, job->pw,
		    job->pwlen, &job->needs_rehash, &err);
		if (job->result == 1 && job->needs_rehash)
			job->have_new = password_hash(&pool->params, job->pw,
			    job->pwlen, job->new_phc, sizeof(job->new_phc),
			    &err) == 0;
		break;
	case PASSWORD_OP_DUMMY:
		job->result = password_dummy_verify(&pool->params, pool->dummy,
		    job->pw, job->pwlen, &err);
		break;
	}
	bw_wipe(job->pw, job->pwlen + 1);
}

static void
password_pool_notify(struct password_pool *pool)
{
	uint64_t	 one = 1;
	ssize_t		 n;

	do
		n = write(pool->efd, &one, sizeof(one));
	while (n == -1 && errno == EINTR);
}

static void *
password_pool_main(void *arg)
{
	struct password_pool	*pool = arg;
	struct password_job	*job;

	pthread_mutex_lock(&pool->mtx);
	for (;;) {
		while (!pool->closing && TAILQ_EMPTY(&pool->queue))
			pthread_cond_wait(&pool->cond, &pool->mtx);
		if (pool->closing)
			break;
		job = TAILQ_FIRST(&pool->queue);
		TAILQ_REMOVE(&pool->queue, job, entry);
		pool->nqueued--;
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&pool->mtx);

		password_job_run(pool, job);

		pthread_mutex_lock(&pool->mtx);
		job->state = JOB_DONE;
		TAILQ_INSERT_TAIL(&pool->done, job, entry);
		password_pool_notify(pool);
	}
	pthread_mutex_unlock(&pool->mtx);
	return NULL;
}

static void
password_pool_deliver(struct password_pool *pool, struct password_job *job)
{
	if (!job->abandoned) {
		job->state = JOB_CALLBACK;
		job->done(job->arg, job->result, job->needs_rehash,
		    job->have_new ? job->new_phc : NULL);
	}
	pthread_mutex_lock(&pool->mtx);
	pool->ninflight--;
	pthread_mutex_unlock(&pool->mtx);
	password_job_free(job);
}

static void
password_pool_wake(evutil_socket_t fd, short what, void *arg)
{
	struct password_pool	*pool = arg;
	struct password_jobq	 batch;
	struct password_job	*job;
	uint64_t		 v;
	ssize_t			 n;

	(void)what;
	do
		n = read(fd, &v, sizeof(v));
	while (n == -1 && errno == EINTR);
	TAILQ_INIT(&batch);
	pthread_mutex_lock(&pool->mtx);
	TAILQ_CONCAT(&batch, &pool->done, entry);
	pthread_mutex_unlock(&pool->mtx);
	while ((job = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, job, entry);
		password_pool_deliver(pool, job);
	}
}

static int
password_pool_start(struct password_pool *pool, unsigned threads)
{
	sigset_t	 all, old;
	int		 rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (pool->nthreads = 0; pool->nthreads < threads; pool->nthreads++) {
		rc = pthread_create(&pool->threads[pool->nthreads], NULL,
		    password_pool_main, pool);
		if (rc != 0)
			break;
		pthread_setname_np(pool->threads[pool->nthreads], "bw-argon2");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

static void
password_pool_stop(struct password_pool *pool)
{
	unsigned	 i;

	pthread_mutex_lock(&pool->mtx);
	pool->closing = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->mtx);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
}

struct password_pool *
password_pool_new(struct event_base *base, const struct conf_auth *a,
    unsigned threads, unsigned max_queue, const char **err)
{
	struct password_pool	*pool;

	if (threads < 1 || threads > PASSWORD_POOL_MAX_THREADS ||
	    max_queue < 1 || max_queue > PASSWORD_POOL_MAX_QUEUE) {
		*err = "password pool size out of bounds";
		return NULL;
	}
	pool = bw_calloc(1, sizeof(*pool));
	pool->efd = -1;
	TAILQ_INIT(&pool->queue);
	TAILQ_INIT(&pool->done);
	pool->max_queue = max_queue;
	password_params_conf(&a->argon2, &pool->params);
	pthread_mutex_init(&pool->mtx, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->threads = bw_calloc(threads, sizeof(*pool->threads));
	if (password_dummy_new(&pool->params, pool->dummy,
	    sizeof(pool->dummy), err) == -1)
		goto fail;
	if ((pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		*err = "eventfd failed";
		goto fail;
	}
	if ((pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST,
	    password_pool_wake, pool)) == NULL || event_add(pool->ev,
	    NULL) == -1) {
		*err = "cannot watch the password pool eventfd";
		goto fail;
	}
	if (password_pool_start(pool, threads) == -1) {
		*err = "cannot create the password pool threads";
		goto fail;
	}
	return pool;
fail:
	password_pool_free(pool);
	return NULL;
}

int
password_pool_submit(struct password_pool *pool, enum password_op op,
    const char *phc, const char *pw, size_t len,
    void (*done)(void *, int, bool, const char *), void *arg,
    struct password_job **jobp)
{
	struct password_job	*job;

	*jobp = NULL;
	if (len > PASSWORD_MAX_BYTES)
		return -1;
	pthread_mutex_lock(&pool->mtx);
	if (pool->closing || pool->nqueued >= pool->max_queue) {
		pthread_mutex_unlock(&pool->mtx);
		return -1;
	}
	pool->nqueued++;
	pool->ninflight++;
	pthread_mutex_unlock(&pool->mtx);

	job = bw_calloc(1, sizeof(*job));
	job->pool = pool;
	job->op = op;
	job->pw = bw_malloc(len + 1);
	if (len > 0)
		memcpy(job->pw, pw, len);
	job->pw[len] = '\0';
	job->pwlen = len;
	if (op == PASSWORD_OP_VERIFY && bw_strlcpy(job->phc, phc,
	    sizeof(job->phc)) >= sizeof(job->phc))
		job->phc[0] = '\0';
	job->done = done;
	job->arg = arg;
	job->result = -1;

	pthread_mutex_lock(&pool->mtx);
	job->state = JOB_QUEUED;
	TAILQ_INSERT_TAIL(&pool->queue, job, entry);
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->mtx);
	*jobp = job;
	return 0;
}

void
password_job_abandon(struct password_job *job)
{
	struct password_pool	*pool;

	if (job == NULL)
		return;
	pool = job->pool;
	pthread_mutex_lock(&pool->mtx);
	switch (job->state) {
	case JOB_QUEUED:
		TAILQ_REMOVE(&pool->queue, job, entry);
		pool->nqueued--;
		pool->ninflight--;
		pthread_mutex_unlock(&pool->mtx);
		password_job_free(job);
		return;
	case JOB_RUNNING:
	case JOB_DONE:
		job->abandoned = true;
		break;
	case JOB_CALLBACK:
		break;
	}
	pthread_mutex_unlock(&pool->mtx);
}

static void
password_jobq_free(struct password_jobq *q)
{
	struct password_job	*job;

	while ((job = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, job, entry);
		password_job_free(job);
	}
}

void
password_pool_free(struct password_pool *pool)
{
	if (pool == NULL)
		return;
	password_pool_stop(pool);
	password_jobq_free(&pool->queue);
	password_jobq_free(&pool->done);
	if (pool->ev != NULL)
		event_free(pool->ev);
	if (pool->efd != -1)
		close(pool->efd);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->mtx);
	free(pool->threads);
	bw_wipe(pool->dummy, sizeof(pool->dummy));
	free(pool);
}

/* One of the pool's counters, read under its lock. */
static unsigned
password_pool_count(struct password_pool *pool, const unsigned *counter)
{
	unsigned	 n;

	pthread_mutex_lock(&pool->mtx);
	n = *counter;
	pthread_mutex_unlock(&pool->mtx);
	return n;
}

unsigned
password_pool_queued(struct password_pool *pool)
{
	return password_pool_count(pool, &pool->nqueued);
}

unsigned
password_pool_inflight(struct password_pool *pool)
{
	return password_pool_count(pool, &pool->ninflight);
}
