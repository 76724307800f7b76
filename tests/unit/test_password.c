/*
 * test_password.c - password policy, usernames, argon2id PHC strings
 * (format, strict parsing, bounds, rehash), the dummy hash, and the
 * per-worker pool: completion on the event loop, queue bound, abandon in
 * every state, shutdown with work pending.
 */
#include <sys/wait.h>

#include <dirent.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <event2/event.h>

#include "unit.h"

#include "conf.h"
#include "password.h"
#include "sandbox.h"
#include "util.h"

#define EMOJI	"\xf0\x9f\x98\x80"	/* U+1F600, 4 bytes, 1 code point */

static struct conf_auth	 auth;

/* Small parameters for speed; the default ones are tested on their own. */
static const struct password_params small = { 64, 1, 1 };

static void
setup(void)
{
	memset(&auth, 0, sizeof(auth));
	auth.password_min_length = 12;
	auth.password_max_length = 128;
	auth.argon2.memory = 64 * 1024;
	auth.argon2.iterations = 1;
	auth.argon2.parallelism = 1;
}

static char *
repeat(const char *s, size_t n)
{
	size_t	 l = strlen(s), i;
	char	*out = bw_malloc(l * n + 1);

	for (i = 0; i < n; i++)
		memcpy(out + i * l, s, l);
	out[l * n] = '\0';
	return out;
}

static int
policy(const char *pw, size_t len, const char **err)
{
	*err = NULL;
	return password_check_policy(&auth, pw, len, err);
}

START_TEST(policy_length_code_points)
{
	const char	*err;
	char		*p;

	ck_assert_int_eq(policy("abcdefghijkl", 12, &err), 0);
	ck_assert_int_eq(policy("abcdefghijk", 11, &err), -1);
	ck_assert_str_eq(err, "password is too short");
	/* 11 emoji are 44 bytes but 11 code points: too short. */
	p = repeat(EMOJI, 11);
	ck_assert_int_eq(policy(p, strlen(p), &err), -1);
	ck_assert_str_eq(err, "password is too short");
	free(p);
	p = repeat(EMOJI, 12);
	ck_assert_int_eq(policy(p, strlen(p), &err), 0);
	free(p);
	/* max_length 128: 128 emoji (512 bytes) pass, 129 do not. */
	p = repeat(EMOJI, 128);
	ck_assert_int_eq(policy(p, strlen(p), &err), 0);
	free(p);
	p = repeat(EMOJI, 129);
	ck_assert_int_eq(policy(p, strlen(p), &err), -1);
	ck_assert_str_eq(err, "password is too long");
	free(p);
	/* Never truncated: 129 ASCII characters are refused, not cut. */
	p = repeat("a", 129);
	ck_assert_int_eq(policy(p, 129, &err), -1);
	ck_assert_str_eq(err, "password is too long");
	ck_assert_int_eq(policy(p, 128, &err), 0);
	free(p);
}
END_TEST

START_TEST(policy_controls)
{
	static const char *const bad[] = {
		"abcdefghijk\x01", "abcdefghijk\t", "abcdefghijk\n",
		"abcdefghijk\r", "\x1f" "abcdefghijk", "abcdef\x1b" "ghijk",
	};
	const char	*err;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(policy(bad[i], strlen(bad[i]), &err), -1);
		ck_assert_str_eq(err, "password contains a control character");
	}
	/* An embedded NUL counts (the length is given). */
	ck_assert_int_eq(policy("abcdef\0ghijkl", 13, &err), -1);
	ck_assert_str_eq(err, "password contains a control character");
	/* DEL and C1 are not C0: accepted (documented in password.c). */
	ck_assert_int_eq(policy("abcdefghijk\x7f", 12, &err), 0);
	ck_assert_int_eq(policy("abcdefghijk\xc2\x85", 13, &err), 0);
}
END_TEST

START_TEST(policy_utf8)
{
	static const char *const bad[] = {
		"abcdefghijkl\xff", "abcdefghijkl\xc0\xaf",
		"abcdefghijkl\xed\xa0\x80", "abcdefghijkl\xf0\x9f\x98",
		"abcdefghijkl\xf4\x90\x80\x80", "abcdefghijkl\x80",
	};
	const char	*err;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(policy(bad[i], strlen(bad[i]), &err), -1);
		ck_assert_str_eq(err, "password is not valid UTF-8");
	}
}
END_TEST

START_TEST(policy_login)
{
	const char	*err = NULL;
	char		*p;

	/* min_length does not apply at login; everything else does. */
	ck_assert_int_eq(password_check_login(&auth, "short", 5, &err), 0);
	p = repeat("a", 129);
	ck_assert_int_eq(password_check_login(&auth, p, 129, &err), -1);
	ck_assert_str_eq(err, "password is too long");
	free(p);
	ck_assert_int_eq(password_check_login(&auth, "a\x01", 2, &err), -1);
	ck_assert_int_eq(password_check_login(&auth, "a\xff", 2, &err), -1);
	/* The byte bound is checked before scanning anything. */
	auth.password_max_length = 4096;
	p = repeat(EMOJI, 4096);
	ck_assert_int_eq(password_check_login(&auth, p, strlen(p), &err), 0);
	free(p);
	p = repeat("a", PASSWORD_MAX_BYTES + 1);
	ck_assert_int_eq(password_check_login(&auth, p, strlen(p), &err), -1);
	ck_assert_str_eq(err, "password is too long");
	free(p);
}
END_TEST

START_TEST(username_rules)
{
	static const char *const bad[] = {
		"", ".alice", "-alice", "_alice", "@alice", "al ice", "al/ice",
		"al+ice", "al\xc3\xa9", "\xe2\x84\xaa" "elvin", "alice\n",
		"al:ice", "al*ice",
	};
	char	 out[PASSWORD_USERNAME_MAX + 1], *p;
	size_t	 i;

	ck_assert(password_username_valid("Alice", out, sizeof(out)));
	ck_assert_str_eq(out, "alice");
	ck_assert(password_username_valid("Bob.Smith@Example.COM", out,
	    sizeof(out)));
	ck_assert_str_eq(out, "bob.smith@example.com");
	ck_assert(password_username_valid("0-a_b.c@d", out, sizeof(out)));
	ck_assert_str_eq(out, "0-a_b.c@d");
	ck_assert(password_username_valid("x", out, sizeof(out)));
	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_msg(!password_username_valid(bad[i], out,
		    sizeof(out)), "%s", bad[i]);
		ck_assert_str_eq(out, "");
	}
	p = repeat("A", 64);
	ck_assert(password_username_valid(p, out, sizeof(out)));
	ck_assert_uint_eq(strlen(out), 64);
	ck_assert_int_eq(out[63], 'a');
	/* Too small an output buffer is a refusal, not a truncation. */
	ck_assert(!password_username_valid(p, out, 64));
	free(p);
	p = repeat("a", 65);
	ck_assert(!password_username_valid(p, out, sizeof(out)));
	free(p);
	ck_assert(!password_username_valid_len("a\0b", 3, out, sizeof(out)));
	ck_assert(password_username_valid_len("abc", 2, out, sizeof(out)));
	ck_assert_str_eq(out, "ab");
}
END_TEST

static void
assert_phc_shape(const char *phc, const char *params)
{
	char	 re[256];
	regex_t	 rx;

	snprintf(re, sizeof(re), "^\\$argon2id\\$v=19\\$%s\\$"
	    "[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}$", params);
	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&rx, phc, 0, NULL, 0) == 0, "%s", phc);
	regfree(&rx);
}

START_TEST(hash_round_trip)
{
	char		 phc[PASSWORD_PHC_MAX], phc2[PASSWORD_PHC_MAX];
	const char	*err = NULL;
	bool		 rh = true;

	ck_assert_int_eq(password_hash(&small, "correct horse", 13, phc,
	    sizeof(phc), &err), 0);
	assert_phc_shape(phc, "m=64,t=1,p=1");
	ck_assert_int_eq(password_verify(&small, phc, "correct horse", 13, &rh,
	    &err), 1);
	ck_assert(!rh);
	rh = true;
	ck_assert_int_eq(password_verify(&small, phc, "correct horsE", 13, &rh,
	    &err), 0);
	ck_assert(!rh);
	ck_assert_int_eq(password_verify(&small, phc, "correct horse", 12, NULL,
	    &err), 0);
	ck_assert_int_eq(password_verify(&small, phc, "correct horse ", 14,
	    NULL, &err), 0);
	/* A fresh salt every time. */
	ck_assert_int_eq(password_hash(&small, "correct horse", 13, phc2,
	    sizeof(phc2), &err), 0);
	ck_assert_str_ne(phc, phc2);
	/* Interoperable with the reference implementation. */
	ck_assert_int_eq(argon2id_verify(phc, "correct horse", 13), ARGON2_OK);
	ck_assert_int_ne(argon2id_verify(phc, "correct horsE", 13), ARGON2_OK);
}
END_TEST

START_TEST(hash_not_normalized)
{
	char		 phc[PASSWORD_PHC_MAX];
	const char	*err;
	const char	*nfc = "caf\xc3\xa9-passphrase", *nfd =
	    "cafe\xcc\x81-passphrase";

	ck_assert_int_eq(password_hash(&small, nfc, strlen(nfc), phc,
	    sizeof(phc), &err), 0);
	ck_assert_int_eq(password_verify(&small, phc, nfc, strlen(nfc), NULL,
	    &err), 1);
	ck_assert_int_eq(password_verify(&small, phc, nfd, strlen(nfd), NULL,
	    &err), 0);
}
END_TEST

START_TEST(hash_defaults)
{
	struct password_params	 pp;
	struct conf_argon2	 c = { 19 * 1024 * 1024, 2, 1 };
	char			 phc[PASSWORD_PHC_MAX];
	const char		*err;
	bool			 rh = true;

	password_params_conf(&c, &pp);
	ck_assert_uint_eq(pp.m_kib, 19456);
	ck_assert_int_eq(password_hash(&pp, "a passphrase!", 13, phc,
	    sizeof(phc), &err), 0);
	ck_assert(strncmp(phc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_phc_shape(phc, "m=19456,t=2,p=1");
	ck_assert_uint_eq(strlen(phc), 31 + 22 + 1 + 43);
	ck_assert_int_eq(password_verify(&pp, phc, "a passphrase!", 13, &rh,
	    &err), 1);
	ck_assert(!rh);
	ck_assert_int_eq(argon2id_verify(phc, "a passphrase!", 13), ARGON2_OK);
}
END_TEST

/* Lanes > 1 with threads = 1 give the reference implementation's hash. */
START_TEST(hash_lanes_interop)
{
	const struct password_params	 p2 = { 64, 2, 2 };
	const uint8_t			 salt[16] = "0123456789abcdef";
	char				 ref[PASSWORD_PHC_MAX];
	char				 phc[PASSWORD_PHC_MAX];
	const char			*err;
	bool				 rh = true;

	ck_assert_int_eq(argon2id_hash_encoded(2, 64, 2, "pw-lanes", 8, salt,
	    sizeof(salt), 32, ref, sizeof(ref)), ARGON2_OK);
	ck_assert_int_eq(password_verify(&p2, ref, "pw-lanes", 8, &rh, &err),
	    1);
	ck_assert(!rh);
	ck_assert_int_eq(password_hash(&p2, "pw-lanes", 8, phc, sizeof(phc),
	    &err), 0);
	assert_phc_shape(phc, "m=64,t=2,p=2");
	ck_assert_int_eq(argon2id_verify(phc, "pw-lanes", 8), ARGON2_OK);
}
END_TEST

START_TEST(hash_needs_rehash)
{
	const struct password_params	 m = { 128, 1, 1 }, t = { 64, 2, 1 },
					 p = { 64, 1, 2 };
	const uint8_t			 salt[8] = "saltsalt";
	char				 phc[PASSWORD_PHC_MAX];
	const char			*err;
	bool				 rh;

	ck_assert_int_eq(password_hash(&small, "rehash me", 9, phc,
	    sizeof(phc), &err), 0);
	rh = false;
	ck_assert_int_eq(password_verify(&m, phc, "rehash me", 9, &rh, &err),
	    1);
	ck_assert(rh);
	rh = false;
	ck_assert_int_eq(password_verify(&t, phc, "rehash me", 9, &rh, &err),
	    1);
	ck_assert(rh);
	rh = false;
	ck_assert_int_eq(password_verify(&p, phc, "rehash me", 9, &rh, &err),
	    1);
	ck_assert(rh);
	/* Only on a match. */
	rh = true;
	ck_assert_int_eq(password_verify(&m, phc, "rehash mE", 9, &rh, &err),
	    0);
	ck_assert(!rh);
	/* Same parameters but an 8-byte salt and a 16-byte hash. */
	ck_assert_int_eq(argon2id_hash_encoded(1, 64, 1, "rehash me", 9, salt,
	    sizeof(salt), 16, phc, sizeof(phc)), ARGON2_OK);
	rh = false;
	ck_assert_int_eq(password_verify(&small, phc, "rehash me", 9, &rh,
	    &err), 1);
	ck_assert(rh);
}
END_TEST

/* Flipping one character of salt or hash: well-formed, no match. */
START_TEST(hash_tampered)
{
	char		 phc[PASSWORD_PHC_MAX], *last, keep;
	const char	*err;

	ck_assert_int_eq(password_hash(&small, "tamper", 6, phc, sizeof(phc),
	    &err), 0);
	last = strrchr(phc, '$');
	keep = last[5];
	last[5] = keep == 'A' ? 'B' : 'A';
	ck_assert_int_eq(password_verify(&small, phc, "tamper", 6, NULL, &err),
	    0);
	last[5] = keep;
	ck_assert_int_eq(password_verify(&small, phc, "tamper", 6, NULL, &err),
	    1);
	last = phc + strlen("$argon2id$v=19$m=64,t=1,p=1$") + 2;
	*last = *last == 'A' ? 'B' : 'A';
	ck_assert_int_eq(password_verify(&small, phc, "tamper", 6, NULL, &err),
	    0);
}
END_TEST

#define SALT	"c2FsdHNhbHRzYWx0c2FsdA"
#define HASH	"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

static const char *const malformed[] = {
	"",
	"$argon2i$v=19$m=64,t=1,p=1$" SALT "$" HASH,
	"$argon2d$v=19$m=64,t=1,p=1$" SALT "$" HASH,
	"$argon2id$v=16$m=64,t=1,p=1$" SALT "$" HASH,
	"$argon2id$m=64,t=1,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=064,t=1,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=+64,t=1,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=64,t=1$" SALT "$" HASH,
	"$argon2id$v=19$t=1,m=64,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=64,t=1,p=1,keyid=x$" SALT "$" HASH,
	"$argon2id$v=19$m=64, t=1,p=1$" SALT "$" HASH,
	/* bounds: memory, iterations, lanes, memory below 8 per lane */
	"$argon2id$v=19$m=262145,t=1,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=99999999999999999999,t=1,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=64,t=11,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=64,t=0,p=1$" SALT "$" HASH,
	"$argon2id$v=19$m=64,t=1,p=5$" SALT "$" HASH,
	"$argon2id$v=19$m=64,t=1,p=0$" SALT "$" HASH,
	"$argon2id$v=19$m=31,t=1,p=4$" SALT "$" HASH,
	"$argon2id$v=19$m=7,t=1,p=1$" SALT "$" HASH,
	/* base64: padding, foreign alphabet, stray bits, lengths */
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "==$" HASH,
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "$" HASH "=",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2Fsd-$" HASH,
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdB$" HASH,
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2h",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" HASH,
	"$argon2id$v=19$m=64,t=1,p=1$$" HASH,
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "$aGFzaA",
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "$",
	"$argon2id$v=19$m=64,t=1,p=1$" SALT,
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "$" HASH "$",
	"$argon2id$v=19$m=64,t=1,p=1$" SALT "$" HASH HASH HASH,
	" $argon2id$v=19$m=64,t=1,p=1$" SALT "$" HASH,
	"$ARGON2ID$v=19$m=64,t=1,p=1$" SALT "$" HASH,
};

START_TEST(hash_malformed)
{
	const char	*err = NULL;
	uint64_t	 runs = password_argon2_runs();

	ck_assert_int_eq(password_verify(&small, malformed[_i], "x", 1, NULL,
	    &err), -1);
	ck_assert_str_eq(err, "malformed or out of bounds password hash");
	/* Refused before any hashing. */
	ck_assert_uint_eq(password_argon2_runs(), runs);
}
END_TEST

/* The well-formed reference the malformed list is derived from. */
START_TEST(hash_malformed_base)
{
	const char	*err;

	ck_assert_int_eq(password_verify(&small,
	    "$argon2id$v=19$m=64,t=1,p=1$" SALT "$" HASH, "x", 1, NULL, &err),
	    0);
}
END_TEST

START_TEST(hash_param_bounds)
{
	const struct password_params	 bad[] = {
		{ 7, 1, 1 }, { PASSWORD_MAX_MEMORY_KIB + 1, 1, 1 },
		{ 64, 0, 1 }, { 64, PASSWORD_MAX_ITERATIONS + 1, 1 },
		{ 64, 1, 0 }, { 64, 1, PASSWORD_MAX_LANES + 1 }, { 31, 1, 4 },
	};
	char				 phc[PASSWORD_PHC_MAX];
	const char			*err = NULL;
	size_t				 i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(password_hash(&bad[i], "x", 1, phc,
		    sizeof(phc), &err), -1);
		ck_assert_str_eq(err, "argon2id failed (parameters or memory)");
	}
	/* The output buffer must hold the whole string: never truncated. */
	ck_assert_int_eq(password_hash(&small, "x", 1, phc, 94, &err), -1);
	ck_assert_str_eq(err, "hash buffer too small");
	ck_assert_int_eq(password_hash(&small, "x", 1, phc, 95, &err), 0);
	ck_assert_uint_eq(strlen(phc), 94);
}
END_TEST

START_TEST(dummy_verify)
{
	char		 dummy[PASSWORD_PHC_MAX], phc[PASSWORD_PHC_MAX];
	const char	*err;
	uint64_t	 runs;

	ck_assert_int_eq(password_dummy_new(&small, dummy, sizeof(dummy),
	    &err), 0);
	assert_phc_shape(dummy, "m=64,t=1,p=1");
	ck_assert_int_eq(password_hash(&small, "real user", 9, phc,
	    sizeof(phc), &err), 0);
	/* Both paths run exactly one argon2 computation. */
	runs = password_argon2_runs();
	ck_assert_int_eq(password_dummy_verify(&small, dummy, "guess", 5, &err),
	    0);
	ck_assert_uint_eq(password_argon2_runs(), runs + 1);
	ck_assert_int_eq(password_verify(&small, phc, "guess", 5, NULL, &err),
	    0);
	ck_assert_uint_eq(password_argon2_runs(), runs + 2);
	ck_assert_int_eq(password_dummy_verify(&small, "$argon2id$bad", "x", 1,
	    &err), -1);
}
END_TEST

/*
 * Pool
 */
struct result {
	int			 calls;
	int			 result;
	bool			 rehash;
	char			 phc[PASSWORD_PHC_MAX];
	bool			 have_phc;
	int			*counter;
	struct password_job	*self;
	struct password_job	**other;
};

static void
on_done(void *arg, int result, bool rehash, const char *phc)
{
	struct result	*r = arg;

	r->calls++;
	r->result = result;
	r->rehash = rehash;
	r->have_phc = phc != NULL;
	if (phc != NULL)
		bw_strlcpy(r->phc, phc, sizeof(r->phc));
	if (r->counter != NULL)
		(*r->counter)++;
	/* Abandoning the job being delivered is a no-op. */
	if (r->self != NULL)
		password_job_abandon(r->self);
	if (r->other != NULL && *r->other != NULL) {
		password_job_abandon(*r->other);
		*r->other = NULL;
	}
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until *count reaches want or timeout_ms passes. */
static bool
pump(struct event_base *base, const int *count, int want, int timeout_ms)
{
	struct timeval	 tv = { 0, 10000 };
	struct timespec	 t0, t1;
	struct event	*ev;
	long		 ms;

	ev = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(ev, &tv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (*count >= want)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > timeout_ms)
			break;
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(ev);
	return *count >= want;
}

static bool
pump_idle(struct event_base *base, struct password_pool *pool,
    int timeout_ms)
{
	int	 i;

	for (i = 0; i < timeout_ms / 10; i++) {
		if (password_pool_inflight(pool) == 0)
			return true;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	return password_pool_inflight(pool) == 0;
}

static void
wait_queued(struct password_pool *pool, unsigned n)
{
	int	 i;

	for (i = 0; i < 500 && password_pool_queued(pool) != n; i++)
		usleep(1000);
	ck_assert_uint_eq(password_pool_queued(pool), n);
}

static struct event_base *
new_base(void)
{
	struct event_config	*cfg = event_config_new();
	struct event_base	*base;

	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	ck_assert_ptr_nonnull(base);
	return base;
}

/* Slow enough that the loop thread outruns a pool thread by far. */
static void
slow_params(void)
{
	auth.argon2.memory = 16 * 1024 * 1024;
	auth.argon2.iterations = 10;
}

START_TEST(pool_bounds)
{
	struct event_base	*base = new_base();
	const char		*err = NULL;

	ck_assert_ptr_null(password_pool_new(base, &auth, 0, 8, &err));
	ck_assert_str_eq(err, "password pool size out of bounds");
	ck_assert_ptr_null(password_pool_new(base, &auth,
	    PASSWORD_POOL_MAX_THREADS + 1, 8, &err));
	ck_assert_ptr_null(password_pool_new(base, &auth, 1, 0, &err));
	ck_assert_ptr_null(password_pool_new(base, &auth, 1,
	    PASSWORD_POOL_MAX_QUEUE + 1, &err));
	/* Parameters that cannot hash: the dummy hash fails at start. */
	auth.argon2.memory = 1024;
	err = NULL;
	ck_assert_ptr_null(password_pool_new(base, &auth, 1, 8, &err));
	ck_assert_ptr_nonnull(err);
	event_base_free(base);
}
END_TEST

START_TEST(pool_concurrent)
{
	struct event_base	*base = new_base();
	struct password_pool	*pool;
	struct password_job	*job;
	struct result		 r[20];
	char			 phc[PASSWORD_PHC_MAX];
	const char		*err;
	int			 count = 0, i, rc;

	ck_assert_int_eq(password_hash(&small, "pool password", 13, phc,
	    sizeof(phc), &err), 0);
	pool = password_pool_new(base, &auth, 4, 32, &err);
	ck_assert_ptr_nonnull(pool);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 20; i++) {
		r[i].counter = &count;
		r[i].result = 99;
		switch (i % 4) {
		case 0:
			rc = password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
			    "pool password", 13, on_done, &r[i], &job);
			break;
		case 1:
			rc = password_pool_submit(pool, PASSWORD_OP_VERIFY, phc,
			    "pool password", 13, on_done, &r[i], &job);
			break;
		case 2:
			rc = password_pool_submit(pool, PASSWORD_OP_VERIFY, phc,
			    "pool passworD", 13, on_done, &r[i], &job);
			break;
		default:
			rc = password_pool_submit(pool, PASSWORD_OP_DUMMY, NULL,
			    "pool password", 13, on_done, &r[i], &job);
			break;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_ptr_nonnull(job);
	}
	ck_assert_uint_eq(password_pool_inflight(pool), 20);
	ck_assert(pump(base, &count, 20, 20000));
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		ck_assert(!r[i].rehash);
		switch (i % 4) {
		case 0:
			ck_assert_int_eq(r[i].result, 0);
			ck_assert(r[i].have_phc);
			assert_phc_shape(r[i].phc, "m=64,t=1,p=1");
			ck_assert_int_eq(password_verify(&small, r[i].phc,
			    "pool password", 13, NULL, &err), 1);
			break;
		case 1:
			ck_assert_int_eq(r[i].result, 1);
			ck_assert(!r[i].have_phc);
			break;
		default:
			ck_assert_int_eq(r[i].result, 0);
			ck_assert(!r[i].have_phc);
			break;
		}
	}
	ck_assert_uint_eq(password_pool_inflight(pool), 0);
	password_pool_free(pool);
	event_base_free(base);
}
END_TEST

START_TEST(pool_rehash_and_errors)
{
	const struct password_params	 old = { 128, 1, 1 };
	struct event_base		*base = new_base();
	struct password_pool		*pool;
	struct password_job		*job;
	struct result			 r[3];
	char				 phc[PASSWORD_PHC_MAX], big[400];
	const char			*err;
	int				 count = 0, i;

	ck_assert_int_eq(password_hash(&old, "old params", 10, phc,
	    sizeof(phc), &err), 0);
	pool = password_pool_new(base, &auth, 2, 8, &err);
	ck_assert_ptr_nonnull(pool);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++)
		r[i].counter = &count;
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "$argon2id$v=19$m=64,t=1,p=1$", 28);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_VERIFY, phc,
	    "old params", 10, on_done, &r[0], &job), 0);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_VERIFY,
	    "$argon2id$nonsense", "x", 1, on_done, &r[1], &job), 0);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_VERIFY, big,
	    "x", 1, on_done, &r[2], &job), 0);
	ck_assert(pump(base, &count, 3, 20000));
	ck_assert_int_eq(r[0].result, 1);
	ck_assert(r[0].rehash);
	ck_assert(r[0].have_phc);
	assert_phc_shape(r[0].phc, "m=64,t=1,p=1");
	ck_assert_int_eq(password_verify(&small, r[0].phc, "old params", 10,
	    NULL, &err), 1);
	ck_assert_int_eq(r[1].result, -1);
	ck_assert_int_eq(r[2].result, -1);
	/* A password beyond PASSWORD_MAX_BYTES is refused at submission. */
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    big, PASSWORD_MAX_BYTES + 1, on_done, &r[0], &job), -1);
	ck_assert_ptr_null(job);
	password_pool_free(pool);
	event_base_free(base);
}
END_TEST

START_TEST(pool_queue_full)
{
	struct event_base	*base = new_base();
	struct password_pool	*pool;
	struct password_job	*job;
	struct result		 r[64];
	const char		*err;
	int			 count = 0, accepted = 0, i, rc = 0;

	slow_params();
	pool = password_pool_new(base, &auth, 1, 3, &err);
	ck_assert_ptr_nonnull(pool);
	memset(r, 0, sizeof(r));
	/* One job running, then the queue fills up to its bound. */
	r[0].counter = &count;
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "queue", 5, on_done, &r[0], &job), 0);
	accepted = 1;
	wait_queued(pool, 0);
	for (i = 1; i < 64; i++) {
		r[i].counter = &count;
		rc = password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
		    "queue", 5, on_done, &r[i], &job);
		if (rc == -1)
			break;
		accepted++;
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(job);
	ck_assert_uint_eq(password_pool_queued(pool), 3);
	ck_assert_int_eq(accepted, 4);
	ck_assert(pump(base, &count, accepted, 20000));
	for (i = 0; i < accepted; i++)
		ck_assert_int_eq(r[i].result, 0);
	ck_assert_int_eq(r[accepted].calls, 0);
	ck_assert_uint_eq(password_pool_inflight(pool), 0);
	/* Room again once drained. */
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "queue", 5, on_done, &r[accepted], &job), 0);
	ck_assert(pump(base, &count, accepted + 1, 20000));
	password_pool_free(pool);
	event_base_free(base);
}
END_TEST

/* Abandon a running job and a queued one; only the third is delivered. */
START_TEST(pool_abandon_running_and_queued)
{
	struct event_base	*base = new_base();
	struct password_pool	*pool;
	struct password_job	*a, *b, *c;
	struct result		 ra, rb, rc;
	const char		*err;
	int			 count = 0;

	slow_params();
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	memset(&rc, 0, sizeof(rc));
	ra.counter = rb.counter = rc.counter = &count;
	pool = password_pool_new(base, &auth, 1, 8, &err);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "running", 7, on_done, &ra, &a), 0);
	wait_queued(pool, 0);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "queued", 6, on_done, &rb, &b), 0);
	ck_assert_uint_eq(password_pool_queued(pool), 1);
	ck_assert_uint_eq(password_pool_inflight(pool), 2);
	password_job_abandon(b);
	ck_assert_uint_eq(password_pool_queued(pool), 0);
	ck_assert_uint_eq(password_pool_inflight(pool), 1);
	password_job_abandon(a);
	ck_assert_uint_eq(password_pool_inflight(pool), 1);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "third", 5, on_done, &rc, &c), 0);
	ck_assert(pump(base, &count, 1, 20000));
	ck_assert_int_eq(rc.calls, 1);
	ck_assert_int_eq(rc.result, 0);
	ck_assert(pump_idle(base, pool, 5000));
	ck_assert_int_eq(ra.calls, 0);
	ck_assert_int_eq(rb.calls, 0);
	ck_assert_int_eq(count, 1);
	password_pool_free(pool);
	event_base_free(base);
}
END_TEST

/* Abandon a finished job whose result has not been delivered yet. */
START_TEST(pool_abandon_done)
{
	struct event_base	*base = new_base();
	struct password_pool	*pool;
	struct password_job	*a;
	struct result		 ra;
	const char		*err;

	memset(&ra, 0, sizeof(ra));
	pool = password_pool_new(base, &auth, 1, 8, &err);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "finished", 8, on_done, &ra, &a), 0);
	wait_queued(pool, 0);
	usleep(300000);
	password_job_abandon(a);
	ck_assert(pump_idle(base, pool, 5000));
	ck_assert_int_eq(ra.calls, 0);
	password_pool_free(pool);
	event_base_free(base);
}
END_TEST

/*
 * Two results delivered in one batch: the first callback abandons the
 * other job (already finished, not yet delivered) and its own (a no-op).
 */
START_TEST(pool_abandon_from_callback)
{
	struct event_base	*base = new_base();
	struct password_pool	*pool;
	struct password_job	*a, *b;
	struct result		 ra, rb;
	const char		*err;
	int			 count = 0;

	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	ra.counter = rb.counter = &count;
	pool = password_pool_new(base, &auth, 2, 8, &err);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "first", 5, on_done, &ra, &a), 0);
	ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH, NULL,
	    "second", 6, on_done, &rb, &b), 0);
	ra.self = a;
	ra.other = &b;
	rb.self = b;
	rb.other = &a;
	wait_queued(pool, 0);
	usleep(300000);
	ck_assert(pump_idle(base, pool, 5000));
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(ra.calls + rb.calls, 1);
	password_pool_free(pool);
	event_base_free(base);
}
END_TEST

/* Shutdown with a running job and queued ones: joined, freed, silent. */
START_TEST(pool_free_pending)
{
	struct event_base	*base = new_base();
	struct password_pool	*pool;
	struct password_job	*job;
	struct result		 r[5];
	const char		*err;
	int			 i, count = 0;

	slow_params();
	memset(r, 0, sizeof(r));
	pool = password_pool_new(base, &auth, 1, 8, &err);
	ck_assert_ptr_nonnull(pool);
	for (i = 0; i < 5; i++) {
		r[i].counter = &count;
		ck_assert_int_eq(password_pool_submit(pool, PASSWORD_OP_HASH,
		    NULL, "pending", 7, on_done, &r[i], &job), 0);
	}
	wait_queued(pool, 4);
	password_pool_free(pool);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(count, 0);
	event_base_free(base);
}
END_TEST

/* Every thread of this process has uid (real, effective, saved, fs). */
static bool
threads_uid(uid_t uid)
{
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	char		 path[300], line[256];
	unsigned	 r, e, sv, fs;
	int		 n = 0, ok = 0;

	if ((d = opendir("/proc/self/task")) == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
		    de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "Uid: %u %u %u %u", &r, &e, &sv,
			    &fs) == 4 && r == uid && e == uid && sv == uid &&
			    fs == uid)
				ok++;
		fclose(fp);
	}
	closedir(d);
	return n == 3 && ok == n;
}

/*
 * SPEC 11 order in a child: the pool's threads exist, then the identity
 * drop (when root) reaches them too, then the seccomp filter (TSYNC) is
 * loaded; jobs at the default parameters (19 MiB: mmap'd memory) still
 * complete.  A missing system call kills the child with SIGSYS.
 */
static int
sandboxed_child(void)
{
	struct event_base	*base;
	struct password_pool	*pool;
	struct password_job	*job;
	struct result		 r[3];
	char			 phc[PASSWORD_PHC_MAX];
	const char		*err;
	int			 count = 0, i;

	auth.argon2.memory = 19 * 1024 * 1024;
	auth.argon2.iterations = 2;
	if (password_hash(&small, "sandboxed", 9, phc, sizeof(phc), &err) != 0)
		return 10;
	if ((base = event_base_new()) == NULL)
		return 11;
	if ((pool = password_pool_new(base, &auth, 2, 8, &err)) == NULL)
		return 12;
	if (geteuid() == 0) {
		if (sandbox_drop_ids(65534, 65534, &err) != 0)
			return 13;
		if (!threads_uid(65534))
			return 14;
	}
	if (sandbox_harden(&err) != 0 ||
	    sandbox_seccomp(SANDBOX_WORKER, SECCOMP_ENFORCE, &err) != 0)
		return 15;
	memset(r, 0, sizeof(r));
	for (i = 0; i < 3; i++)
		r[i].counter = &count;
	if (password_pool_submit(pool, PASSWORD_OP_HASH, NULL, "sandboxed", 9,
	    on_done, &r[0], &job) != 0 ||
	    password_pool_submit(pool, PASSWORD_OP_VERIFY, phc, "sandboxed", 9,
	    on_done, &r[1], &job) != 0 ||
	    password_pool_submit(pool, PASSWORD_OP_DUMMY, NULL, "sandboxed", 9,
	    on_done, &r[2], &job) != 0)
		return 16;
	if (!pump(base, &count, 3, 20000))
		return 17;
	if (r[0].result != 0 || strncmp(r[0].phc,
	    "$argon2id$v=19$m=19456,t=2,p=1$", 31) != 0)
		return 18;
	if (r[1].result != 1 || !r[1].rehash || !r[1].have_phc)
		return 19;
	if (r[2].result != 0)
		return 20;
	password_pool_free(pool);
	event_base_free(base);
	return 0;
}

START_TEST(pool_sandboxed)
{
	pid_t	 pid;
	int	 status;

	if (geteuid() != 0)
		printf("NOTE: not root: identity drop of pool threads not "
		    "checked\n");
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(sandboxed_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!WIFSIGNALED(status), "child killed by signal %d",
	    WTERMSIG(status));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child failed with %d", WEXITSTATUS(status));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("password");
	TCase	*tc;

	tc = tcase_create("policy");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, policy_length_code_points);
	tcase_add_test(tc, policy_controls);
	tcase_add_test(tc, policy_utf8);
	tcase_add_test(tc, policy_login);
	tcase_add_test(tc, username_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, hash_round_trip);
	tcase_add_test(tc, hash_not_normalized);
	tcase_add_test(tc, hash_defaults);
	tcase_add_test(tc, hash_lanes_interop);
	tcase_add_test(tc, hash_needs_rehash);
	tcase_add_test(tc, hash_tampered);
	tcase_add_loop_test(tc, hash_malformed, 0, BW_ARRAY_LEN(malformed));
	tcase_add_test(tc, hash_malformed_base);
	tcase_add_test(tc, hash_param_bounds);
	tcase_add_test(tc, dummy_verify);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, pool_bounds);
	tcase_add_test(tc, pool_concurrent);
	tcase_add_test(tc, pool_rehash_and_errors);
	tcase_add_test(tc, pool_queue_full);
	tcase_add_test(tc, pool_abandon_running_and_queued);
	tcase_add_test(tc, pool_abandon_done);
	tcase_add_test(tc, pool_abandon_from_callback);
	tcase_add_test(tc, pool_free_pending);
	tcase_add_test(tc, pool_sandboxed);
	suite_add_tcase(s, tc);
	return s;
}
