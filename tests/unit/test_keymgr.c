/*
 * test_keymgr.c - the key manager's protocol: key files in, public parts
 * out, signatures for a loaded kid only, the bounds (input size, rate,
 * kept keys, calls in flight), the worker's calls (answer, deadline,
 * cancel) and the child's loop over a real channel.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "unit.h"
#include "chan.h"
#include "jwt.h"
#include "keymgr.h"
#include "keys.h"

static unsigned char	 out[CHAN_MAX_PAYLOAD];
static size_t		 outlen;

/* A fresh private key as PKCS#8 PEM ("ED25519" or "P-256"). */
static char *
pem_new(const char *kind, size_t *len)
{
	EVP_PKEY	*pkey;
	BIO		*bio;
	char		*p, *copy;
	long		 n;

	if (strcmp(kind, "ED25519") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(pkey);
	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
	    NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &p);
	copy = malloc((size_t)n);
	memcpy(copy, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return copy;
}

/* CHAN_KEY_FILE of index; the reply header in *ph. */
static int
load(struct keymgr_state *s, uint32_t index, const void *file, size_t len,
    struct keymgr_public_hdr *ph)
{
	struct keymgr_file_hdr	 fh = { index, 2 };
	unsigned char		 msg[sizeof(fh) + KEYS_FILE_MAX];
	enum chan_type		 rt;
	int			 rv;

	memcpy(msg, &fh, sizeof(fh));
	memcpy(msg + sizeof(fh), file, len);
	rv = keymgr_handle(s, CHAN_KEY_FILE, msg, sizeof(fh) + len, &rt, out,
	    &outlen, 0);
	ck_assert_int_eq(rv, 1);
	ck_assert_int_eq(rt, CHAN_KEY_PUBLIC);
	memcpy(ph, out, sizeof(*ph));
	return ph->ok ? 0 : -1;
}

/* A kid loaded from a fresh key of kind, kept as the signing key. */
static struct keys_key *
load_signing(struct keymgr_state *s, const char *kind)
{
	struct keymgr_public_hdr ph;
	struct keys_key		*pub;
	const char		*err = NULL;
	size_t			 len;
	char			*pem = pem_new(kind, &len);

	ck_assert_int_eq(load(s, 0, pem, len, &ph), 0);
	ck_assert_int_eq(ph.can_sign, 1);
	pub = keys_key_public(out + sizeof(ph), outlen - sizeof(ph), &err);
	ck_assert_msg(pub != NULL, "%s", err);
	ck_assert(!pub->can_sign);
	free(pem);
	return pub;
}

/* A CHAN_SIGN; the status, the signature in out after the header. */
static enum keymgr_status
sign(struct keymgr_state *s, const char *kid, const void *in, size_t len,
    int64_t now)
{
	static unsigned char	 msg[sizeof(struct keymgr_sign_hdr) +
				    KEYMGR_INPUT_MAX + 16];
	struct keymgr_sign_hdr	 sh;
	struct keymgr_sig_hdr	 gh;
	enum chan_type		 rt;

	memset(&sh, 0, sizeof(sh));
	sh.call.id = 42;
	sh.call.origin = 7;
	memcpy(sh.kid, kid, strlen(kid) < sizeof(sh.kid) ? strlen(kid) + 1 :
	    sizeof(sh.kid));
	memcpy(msg, &sh, sizeof(sh));
	memcpy(msg + sizeof(sh), in, len);
	ck_assert_int_eq(keymgr_handle(s, CHAN_SIGN, msg, sizeof(sh) + len,
	    &rt, out, &outlen, now), 1);
	ck_assert_int_eq(rt, CHAN_SIGNATURE);
	memcpy(&gh, out, sizeof(gh));
	ck_assert_uint_eq(gh.id, 42);
	ck_assert_uint_eq(gh.origin, 7);
	if (gh.status != KEYMGR_OK)
		ck_assert_uint_eq(outlen, sizeof(gh));
	return (enum keymgr_status)gh.status;
}

/* A token signed through the key manager verifies with the public key. */
static void
check_token(struct keymgr_state *s, const struct keys_key *pub)
{
	json_t		*claims = json_pack("{s:s}", "sub", "alice");
	const char	*err = NULL;
	char		*tok;
	size_t		 n;

	ck_assert_int_eq(jwt_sign_begin(pub->alg, pub->kid, claims, &tok, &n,
	    &err), 0);
	ck_assert_int_eq(sign(s, pub->kid, tok, n, 0), KEYMGR_OK);
	jwt_sign_finish(tok, n, out + sizeof(struct keymgr_sig_hdr),
	    outlen - sizeof(struct keymgr_sig_hdr));
	ck_assert_msg(jwt_jws_verify(tok, strlen(tok), pub, &err) == 0, "%s",
	    err);
	tok[strlen(tok) - 2] ^= 1;
	ck_assert_int_eq(jwt_jws_verify(tok, strlen(tok), pub, &err), -1);
	free(tok);
	json_decref(claims);
}

START_TEST(test_sign_eddsa_es256)
{
	struct keymgr_state	*s = keymgr_state_new();
	struct keys_key		*ed = load_signing(s, "ED25519");
	struct keys_key		*ec = load_signing(s, "P-256");

	ck_assert_int_eq(ed->alg, KEYS_ALG_EDDSA);
	ck_assert_int_eq(ec->alg, KEYS_ALG_ES256);
	check_token(s, ed);
	check_token(s, ec);
	keys_key_free(ed);
	keys_key_free(ec);
	keymgr_state_free(s);
}
END_TEST

START_TEST(test_unknown_kid)
{
	struct keymgr_state	*s = keymgr_state_new();
	struct keys_key		*ed = load_signing(s, "ED25519");
	struct keymgr_sign_hdr	 sh;
	enum chan_type		 rt;
	unsigned char		 msg[sizeof(sh) + 4];

	ck_assert_int_eq(sign(s, "nope", "abc", 3, 0), KEYMGR_UNKNOWN_KID);
	ck_assert_int_eq(sign(s, "", "abc", 3, 0), KEYMGR_UNKNOWN_KID);
	/* A kid without its NUL. */
	memset(&sh, 'A', sizeof(sh));
	memcpy(msg, &sh, sizeof(sh));
	ck_assert_int_eq(keymgr_handle(s, CHAN_SIGN, msg, sizeof(msg), &rt,
	    out, &outlen, 0), 1);
	ck_assert_uint_eq(((struct keymgr_sig_hdr *)(void *)out)->status,
	    KEYMGR_UNKNOWN_KID);
	ck_assert_int_eq(sign(s, ed->kid, "abc", 3, 0), KEYMGR_OK);
	keys_key_free(ed);
	keymgr_state_free(s);
}
END_TEST

START_TEST(test_input_bound)
{
	struct keymgr_state	*s = keymgr_state_new();
	struct keys_key		*ed = load_signing(s, "ED25519");
	char			*in = calloc(1, KEYMGR_INPUT_MAX + 1);

	memset(in, 'x', KEYMGR_INPUT_MAX + 1);
	ck_assert_int_eq(sign(s, ed->kid, in, KEYMGR_INPUT_MAX, 0), KEYMGR_OK);
	ck_assert_int_eq(sign(s, ed->kid, in, KEYMGR_INPUT_MAX + 1, 0),
	    KEYMGR_TOO_LARGE);
	free(in);
	keys_key_free(ed);
	keymgr_state_free(s);
}
END_TEST

START_TEST(test_rate_bound)
{
	struct keymgr_state	*s = keymgr_state_new();
	struct keys_key		*ed = load_signing(s, "ED25519");
	int			 i;

	for (i = 0; i < KEYMGR_RATE_MAX; i++)
		ck_assert_int_eq(sign(s, ed->kid, "a", 1, 5000), KEYMGR_OK);
	ck_assert_int_eq(sign(s, ed->kid, "a", 1, 5999), KEYMGR_BUSY);
	ck_assert_int_eq(sign(s, ed->kid, "a", 1, 6000), KEYMGR_OK);
	keys_key_free(ed);
	keymgr_state_free(s);
}
END_TEST

START_TEST(test_keep_bound)
{
	struct keymgr_state	*s = keymgr_state_new();
	struct keys_key		*k[KEYMGR_KEEP + 1];
	int			 i;

	for (i = 0; i <= KEYMGR_KEEP; i++)
		k[i] = load_signing(s, "ED25519");
	ck_assert_int_eq(sign(s, k[0]->kid, "a", 1, 0), KEYMGR_UNKNOWN_KID);
	for (i = 1; i <= KEYMGR_KEEP; i++)
		ck_assert_int_eq(sign(s, k[i]->kid, "a", 1, 0), KEYMGR_OK);
	for (i = 0; i <= KEYMGR_KEEP; i++)
		keys_key_free(k[i]);
	keymgr_state_free(s);
}
END_TEST

START_TEST(test_files_not_kept)
{
	struct keymgr_state	*s = keymgr_state_new();
	struct keymgr_public_hdr ph;
	struct keys_key		*k;
	unsigned char		 secret[32];
	const char		*err = NULL;
	size_t			 len;
	char			*pem = pem_new("ED25519", &len);
	int			 i;

	/* A private key among the verify files: public part, not kept. */
	ck_assert_int_eq(load(s, 1, pem, len, &ph), 0);
	k = keys_key_public(out + sizeof(ph), outlen - sizeof(ph), &err);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(sign(s, k->kid, "a", 1, 0), KEYMGR_UNKNOWN_KID);
	keys_key_free(k);
	/* HS256: the secret comes back (the workers sign), not kept. */
	for (i = 0; i < 32; i++)
		secret[i] = (unsigned char)(i * 7 + 1);
	ck_assert_int_eq(load(s, 0, secret, sizeof(secret), &ph), 0);
	ck_assert_int_eq(ph.alg, KEYS_ALG_HS256);
	ck_assert_uint_eq(outlen - sizeof(ph), sizeof(secret));
	ck_assert_mem_eq(out + sizeof(ph), secret, sizeof(secret));
	k = keys_key_parse(secret, sizeof(secret), &err);
	ck_assert_int_eq(sign(s, k->kid, "a", 1, 0), KEYMGR_UNKNOWN_KID);
	keys_key_free(k);
	/* A bad file: the reason, no key. */
	ck_assert_int_eq(load(s, 0, "-----BEGIN junk", 15, &ph), -1);
	ck_assert(ph.err[0] != '\0');
	free(pem);
	keymgr_state_free(s);
}
END_TEST

START_TEST(test_malformed_messages)
{
	struct keymgr_state	*s = keymgr_state_new();
	enum chan_type		 rt;
	unsigned char		 msg[4] = { 0 };

	ck_assert_int_eq(keymgr_handle(s, CHAN_SIGN, msg, sizeof(msg), &rt,
	    out, &outlen, 0), -1);
	ck_assert_int_eq(keymgr_handle(s, CHAN_KEY_FILE, msg, 4, &rt, out,
	    &outlen, 0), -1);
	ck_assert_int_eq(keymgr_handle(s, CHAN_DRAIN, NULL, 0, &rt, out,
	    &outlen, 0), -1);
	ck_assert_int_eq(keymgr_handle(s, CHAN_SIGNATURE, msg, 4, &rt, out,
	    &outlen, 0), -1);
	keymgr_state_free(s);
}
END_TEST

/* The worker's side. */
static int			 ncb;
static enum keymgr_status	 last_st;
static size_t			 last_len;

static void
sign_cb(void *arg, enum keymgr_status st, const unsigned char *sig,
    size_t siglen)
{
	(void)arg;
	(void)sig;
	ncb++;
	last_st = st;
	last_len = siglen;
}

/* Reads the request the client sent; its header in *sh. */
static size_t
peer_read(int fd, struct keymgr_sign_hdr *sh)
{
	enum chan_type	 t;
	size_t		 len;

	ck_assert_int_eq(chan_recv(fd, &t, out, sizeof(out), &len), 1);
	ck_assert_int_eq(t, CHAN_SIGN);
	memcpy(sh, out, sizeof(*sh));
	return len - sizeof(*sh);
}

static void
answer(struct keymgr_client *c, uint64_t id, uint32_t st, size_t siglen,
    int want)
{
	unsigned char		 msg[sizeof(struct keymgr_sig_hdr) + 80];
	struct keymgr_sig_hdr	 gh = { id, 0, st };

	memset(msg, 0x5a, sizeof(msg));
	memcpy(msg, &gh, sizeof(gh));
	ck_assert_int_eq(keymgr_client_answer(c, msg, sizeof(gh) + siglen),
	    want);
}

START_TEST(test_client_answer)
{
	struct event_base	*base = event_base_new();
	struct keymgr_sign_hdr	 sh;
	struct keymgr_client	*c;
	uint64_t		 h = 0;
	int			 fds[2];

	ck_assert_int_eq(chan_pair(fds), 0);
	c = keymgr_client_new(base, fds[0], 1000);
	ncb = 0;
	ck_assert_int_eq(keymgr_sign(c, "kid1", "abc", 3, sign_cb, NULL, &h),
	    0);
	ck_assert_uint_eq(peer_read(fds[1], &sh), 3);
	ck_assert_str_eq(sh.kid, "kid1");
	ck_assert_uint_eq(sh.call.id, h);
	/* Malformed answers: refused, the call still waits. */
	answer(c, h, KEYMGR_OK, 0, -1);
	answer(c, h, KEYMGR_OK, KEYMGR_SIG_MAX + 1, -1);
	answer(c, h, KEYMGR_UNKNOWN_KID, 64, -1);
	answer(c, h, 99, 0, -1);
	ck_assert_int_eq(ncb, 0);
	answer(c, h + 1000, KEYMGR_OK, 64, 0);
	ck_assert_int_eq(ncb, 0);
	answer(c, h, KEYMGR_OK, 64, 0);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_st, KEYMGR_OK);
	ck_assert_uint_eq(last_len, 64);
	/* A second answer to the same call is ignored. */
	answer(c, h, KEYMGR_OK, 64, 0);
	ck_assert_int_eq(ncb, 1);
	/* Input over the bound and an over-long kid: not sent. */
	ck_assert_int_eq(keymgr_sign(c, "kid1", out, KEYMGR_INPUT_MAX + 1,
	    sign_cb, NULL, &h), -1);
	ck_assert_int_eq(keymgr_sign(c,
	    "0123456789012345678901234567890123456789012345678901234567890",
	    "a", 1, sign_cb, NULL, &h), -1);
	keymgr_client_free(c);
	close(fds[0]);
	close(fds[1]);
	event_base_free(base);
}
END_TEST

START_TEST(test_client_deadline_cancel)
{
	struct event_base	*base = event_base_new();
	struct keymgr_sign_hdr	 sh;
	struct keymgr_client	*c;
	uint64_t		 h1 = 0, h2 = 0;
	int			 fds[2];

	ck_assert_int_eq(chan_pair(fds), 0);
	c = keymgr_client_new(base, fds[0], 50);
	ncb = 0;
	ck_assert_int_eq(keymgr_sign(c, "k", "a", 1, sign_cb, NULL, &h1), 0);
	ck_assert_int_eq(keymgr_sign(c, "k", "b", 1, sign_cb, NULL, &h2), 0);
	keymgr_cancel(c, h2);
	event_base_dispatch(base);
	ck_assert_int_eq(ncb, 1);
	ck_assert_int_eq(last_st, KEYMGR_TIMEOUT);
	/* A late answer after the deadline calls nothing. */
	answer(c, h1, KEYMGR_OK, 64, 0);
	answer(c, h2, KEYMGR_OK, 64, 0);
	ck_assert_int_eq(ncb, 1);
	(void)peer_read(fds[1], &sh);
	keymgr_client_free(c);
	close(fds[0]);
	close(fds[1]);
	event_base_free(base);
}
END_TEST

START_TEST(test_client_pending_bound)
{
	struct event_base	*base = event_base_new();
	struct keymgr_sign_hdr	 sh;
	struct keymgr_client	*c;
	uint64_t		 h;
	int			 fds[2], i;

	ck_assert_int_eq(chan_pair(fds), 0);
	c = keymgr_client_new(base, fds[0], 1000);
	for (i = 0; i < KEYMGR_PENDING_MAX; i++) {
		ck_assert_int_eq(keymgr_sign(c, "k", "a", 1, sign_cb, NULL,
		    &h), 0);
		(void)peer_read(fds[1], &sh);
	}
	ck_assert_int_eq(keymgr_sign(c, "k", "a", 1, sign_cb, NULL, &h), -1);
	keymgr_cancel(c, h);
	ck_assert_int_eq(keymgr_sign(c, "k", "a", 1, sign_cb, NULL, &h), 0);
	keymgr_client_free(c);
	close(fds[0]);
	close(fds[1]);
	event_base_free(base);
}
END_TEST

/* The child's loop over a real channel. */
START_TEST(test_main_loop)
{
	struct keymgr_file_hdr	 fh = { 0, 1 };
	struct keymgr_sign_hdr	 sh;
	struct keymgr_public_hdr ph;
	struct keymgr_sig_hdr	 gh;
	struct keys_key		*pub;
	unsigned char		 msg[sizeof(fh) + KEYS_FILE_MAX];
	enum chan_type		 t;
	const char		*err = NULL;
	size_t			 len;
	char			*pem = pem_new("P-256", &len);
	int			 fds[2], status;
	pid_t			 pid;

	ck_assert_int_eq(chan_pair(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		_exit(keymgr_main(fds[1], SECCOMP_ENFORCE));
	}
	close(fds[1]);
	memcpy(msg, &fh, sizeof(fh));
	memcpy(msg + sizeof(fh), pem, len);
	ck_assert_int_eq(chan_send(fds[0], CHAN_KEY_FILE, msg,
	    sizeof(fh) + len), 0);
	ck_assert_int_eq(chan_recv(fds[0], &t, out, sizeof(out), &outlen), 1);
	ck_assert_int_eq(t, CHAN_KEY_PUBLIC);
	memcpy(&ph, out, sizeof(ph));
	pub = keys_key_public(out + sizeof(ph), outlen - sizeof(ph), &err);
	ck_assert_ptr_nonnull(pub);
	memset(&sh, 0, sizeof(sh));
	sh.call.id = 9;
	memcpy(sh.kid, pub->kid, strlen(pub->kid) + 1);
	ck_assert_int_eq(chan_send(fds[0], CHAN_SIGN, &sh, sizeof(sh)), 0);
	ck_assert_int_eq(chan_recv(fds[0], &t, out, sizeof(out), &outlen), 1);
	memcpy(&gh, out, sizeof(gh));
	ck_assert_int_eq(gh.status, KEYMGR_OK);
	ck_assert_uint_eq(outlen, sizeof(gh) + 64);
	/* Anything but its two requests ends it. */
	ck_assert_int_eq(chan_send(fds[0], CHAN_DRAIN, NULL, 0), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	close(fds[0]);
	/* EOF: a clean exit. */
	ck_assert_int_eq(chan_pair(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		_exit(keymgr_main(fds[1], SECCOMP_ENFORCE));
	}
	close(fds[1]);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	keys_key_free(pub);
	free(pem);
}
END_TEST

START_TEST(test_status_text)
{
	int	 i;

	for (i = KEYMGR_OK; i <= KEYMGR_TIMEOUT; i++)
		ck_assert_str_ne(keymgr_status_text((enum keymgr_status)i),
		    "?");
	ck_assert_str_eq(keymgr_status_text((enum keymgr_status)99), "?");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("keymgr");
	TCase	*tc = tcase_create("keymgr");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_sign_eddsa_es256);
	tcase_add_test(tc, test_unknown_kid);
	tcase_add_test(tc, test_input_bound);
	tcase_add_test(tc, test_rate_bound);
	tcase_add_test(tc, test_keep_bound);
	tcase_add_test(tc, test_files_not_kept);
	tcase_add_test(tc, test_malformed_messages);
	tcase_add_test(tc, test_client_answer);
	tcase_add_test(tc, test_client_deadline_cancel);
	tcase_add_test(tc, test_client_pending_bound);
	tcase_add_test(tc, test_main_loop);
	tcase_add_test(tc, test_status_text);
	suite_add_tcase(s, tc);
	return s;
}
