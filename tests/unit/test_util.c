/*
 * test_util.c - units, encodings, UTF-8 and the diagnostics list.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "unit.h"
#include "util.h"

START_TEST(duration_units)
{
	int64_t		 ms;
	const char	*err;

	ck_assert_int_eq(bw_parse_duration("0", &ms, &err), 0);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(bw_parse_duration("250ms", &ms, &err), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(bw_parse_duration("10s", &ms, &err), 0);
	ck_assert_int_eq(ms, 10000);
	ck_assert_int_eq(bw_parse_duration("15m", &ms, &err), 0);
	ck_assert_int_eq(ms, 900000);
	ck_assert_int_eq(bw_parse_duration("1h", &ms, &err), 0);
	ck_assert_int_eq(ms, 3600000);
	ck_assert_int_eq(bw_parse_duration("730d", &ms, &err), 0);
	ck_assert_int_eq(ms, 730LL * 86400000);
}
END_TEST

START_TEST(duration_refused)
{
	static const char *bad[] = {
		"", "10", "s", "1.5s", "-1s", "10 s", "10S", "01s", "10sec",
		"99999999999999999999s", "36501d", "0s0", " 1s",
	};
	int64_t		 ms;
	const char	*err = NULL;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_msg(bw_parse_duration(bad[i], &ms, &err) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(err);
	}
}
END_TEST

START_TEST(size_units)
{
	uint64_t	 b;
	const char	*err;

	ck_assert_int_eq(bw_parse_size("0", &b, &err), 0);
	ck_assert_uint_eq(b, 0);
	ck_assert_int_eq(bw_parse_size("512", &b, &err), 0);
	ck_assert_uint_eq(b, 512);
	ck_assert_int_eq(bw_parse_size("512B", &b, &err), 0);
	ck_assert_uint_eq(b, 512);
	ck_assert_int_eq(bw_parse_size("8KiB", &b, &err), 0);
	ck_assert_uint_eq(b, 8192);
	ck_assert_int_eq(bw_parse_size("19MiB", &b, &err), 0);
	ck_assert_uint_eq(b, 19ULL << 20);
	ck_assert_int_eq(bw_parse_size("2GiB", &b, &err), 0);
	ck_assert_uint_eq(b, 2ULL << 30);
	ck_assert_int_eq(bw_parse_size("8KB", &b, &err), -1);
	ck_assert_int_eq(bw_parse_size("8kib", &b, &err), -1);
	ck_assert_int_eq(bw_parse_size("-1", &b, &err), -1);
	ck_assert_int_eq(bw_parse_size("18446744073709551615GiB", &b, &err),
	    -1);
}
END_TEST

START_TEST(rates)
{
	uint32_t	 count, per;
	const char	*err;

	ck_assert_int_eq(bw_parse_rate("100/s", &count, &per, &err), 0);
	ck_assert_uint_eq(count, 100);
	ck_assert_uint_eq(per, 1000);
	ck_assert_int_eq(bw_parse_rate("10/m", &count, &per, &err), 0);
	ck_assert_uint_eq(per, 60000);
	ck_assert_int_eq(bw_parse_rate("1/h", &count, &per, &err), 0);
	ck_assert_uint_eq(per, 3600000);
	ck_assert_int_eq(bw_parse_rate("0/s", &count, &per, &err), -1);
	ck_assert_int_eq(bw_parse_rate("10/d", &count, &per, &err), -1);
	ck_assert_int_eq(bw_parse_rate("10", &count, &per, &err), -1);
	ck_assert_int_eq(bw_parse_rate("4294967296/s", &count, &per, &err),
	    -1);
}
END_TEST

START_TEST(uint_parse)
{
	uint64_t	 v;

	ck_assert_int_eq(bw_parse_uint("0", 10, &v), 0);
	ck_assert_int_eq(bw_parse_uint("10", 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(bw_parse_uint("11", 10, &v), -1);
	ck_assert_int_eq(bw_parse_uint("010", 100, &v), -1);
	ck_assert_int_eq(bw_parse_uint("", 100, &v), -1);
	ck_assert_int_eq(bw_parse_uint("+1", 100, &v), -1);
	ck_assert_int_eq(bw_parse_uint("18446744073709551615", UINT64_MAX,
	    &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(bw_parse_uint("18446744073709551616", UINT64_MAX,
	    &v), -1);
}
END_TEST

START_TEST(b64url_round_trip)
{
	unsigned char	 in[64], out[64];
	char		 enc[100];
	size_t		 n, len, outlen;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)(n * 37 + 11);
	for (n = 0; n <= sizeof(in); n++) {
		len = bw_b64url_encode(in, n, enc);
		ck_assert_uint_eq(len, bw_b64url_encoded_len(n));
		ck_assert_uint_eq(strlen(enc), len);
		ck_assert_int_eq(bw_b64url_decode(enc, len, out, sizeof(out),
		    &outlen), 0);
		ck_assert_uint_eq(outlen, n);
		ck_assert_mem_eq(in, out, n);
	}
}
END_TEST

START_TEST(b64url_strict)
{
	unsigned char	 out[16];
	size_t		 outlen;

	/* RFC 4648 test vector "foobar" in the URL alphabet. */
	ck_assert_int_eq(bw_b64url_decode("Zm9vYmFy", 8, out, sizeof(out),
	    &outlen), 0);
	ck_assert_uint_eq(outlen, 6);
	ck_assert_mem_eq(out, "foobar", 6);
	/* Padding, the standard alphabet, stray bits, bad lengths. */
	ck_assert_int_eq(bw_b64url_decode("Zm8=", 4, out, sizeof(out),
	    &outlen), -1);
	ck_assert_int_eq(bw_b64url_decode("a+/b", 4, out, sizeof(out),
	    &outlen), -1);
	ck_assert_int_eq(bw_b64url_decode("Zm8", 3, out, sizeof(out),
	    &outlen), 0);
	ck_assert_mem_eq(out, "fo", 2);
	ck_assert_int_eq(bw_b64url_decode("Zm9", 3, out, sizeof(out),
	    &outlen), -1);
	ck_assert_int_eq(bw_b64url_decode("Zm-", 3, out, sizeof(out),
	    &outlen), -1);
	ck_assert_int_eq(bw_b64url_decode("Zm9vY", 5, out, sizeof(out),
	    &outlen), -1);
	/* Output bound. */
	ck_assert_int_eq(bw_b64url_decode("Zm9vYmFy", 8, out, 5, &outlen),
	    -1);
}
END_TEST

START_TEST(hex)
{
	unsigned char	 in[] = { 0x00, 0x7f, 0xab, 0xff };
	char		 out[9];

	bw_hex_encode(in, sizeof(in), out);
	ck_assert_str_eq(out, "007fabff");
}
END_TEST

START_TEST(utf8)
{
	ck_assert(bw_utf8_valid("", 0));
	ck_assert(bw_utf8_valid("plain", 5));
	ck_assert(bw_utf8_valid("\xc3\xa9", 2));
	ck_assert(bw_utf8_valid("\xf0\x9f\x98\x80", 4));
	ck_assert(!bw_utf8_valid("\xc0\xaf", 2));		/* overlong */
	ck_assert(!bw_utf8_valid("\xe0\x80\xaf", 3));		/* overlong */
	ck_assert(!bw_utf8_valid("\xed\xa0\x80", 3));		/* surrogate */
	ck_assert(!bw_utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	ck_assert(!bw_utf8_valid("\xc3", 1));			/* truncated */
	ck_assert(!bw_utf8_valid("\x80", 1));
	ck_assert(!bw_utf8_valid("\xff", 1));
	ck_assert_uint_eq(bw_utf8_len("a\xc3\xa9\xf0\x9f\x98\x80", 7), 3);
}
END_TEST

/* Standard base64 (PHC): the other alphabet, the same strictness. */
START_TEST(b64_standard)
{
	unsigned char	 in[3] = { 0xfb, 0xff, 0xbf }, out[8];
	char		 enc[8];
	size_t		 n;

	ck_assert_uint_eq(bw_b64_encode(in, 3, enc), 4);
	ck_assert_str_eq(enc, "+/+/");
	ck_assert_uint_eq(bw_b64url_encode(in, 3, enc), 4);
	ck_assert_str_eq(enc, "-_-_");
	ck_assert_int_eq(bw_b64_decode("+/+/", 4, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(out, in, 3) == 0);
	ck_assert_int_eq(bw_b64_decode("-_-_", 4, out, sizeof(out), &n), -1);
	ck_assert_int_eq(bw_b64url_decode("+/+/", 4, out, sizeof(out), &n),
	    -1);
	ck_assert_int_eq(bw_b64_decode("+/w", 3, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 2);
	/* Stray bits, padding, a length of 1 mod 4, a short buffer. */
	ck_assert_int_eq(bw_b64_decode("+/+/", 4, out, 2, &n), -1);
	ck_assert_int_eq(bw_b64_decode("+/", 2, out, sizeof(out), &n), -1);
	ck_assert_int_eq(bw_b64_decode("+w==", 4, out, sizeof(out), &n), -1);
	ck_assert_int_eq(bw_b64_decode("+w+w+", 5, out, sizeof(out), &n), -1);
	ck_assert_int_eq(bw_b64_decode("+w", 2, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(out[0], 0xfb);
}
END_TEST

START_TEST(char_classes)
{
	int	 c, v;

	for (c = 0; c < 256; c++) {
		ck_assert(bw_is_digit(c) == (c >= '0' && c <= '9'));
		ck_assert(bw_is_alpha(c) == ((c | 0x20) >= 'a' &&
		    (c | 0x20) <= 'z'));
		ck_assert(bw_is_alnum(c) == (bw_is_digit(c) || bw_is_alpha(c)));
		ck_assert(bw_is_space(c) == (strchr(" \t\n\r\f\v", c) != NULL &&
		    c != 0));
		ck_assert_int_eq(bw_to_lower(c), c >= 'A' && c <= 'Z' ?
		    c + 32 : c);
		v = bw_hex_value(c);
		if (bw_is_digit(c))
			ck_assert_int_eq(v, c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			ck_assert_int_eq(v, (c | 0x20) - 'a' + 10);
		else
			ck_assert_int_eq(v, -1);
		ck_assert(bw_is_hex(c) == (v >= 0));
	}
}
END_TEST

START_TEST(utf8_seq_scan)
{
	uint32_t	 cp;

	ck_assert_uint_eq(bw_utf8_seq((const unsigned char *)"a", 1, &cp), 1);
	ck_assert_uint_eq(cp, 'a');
	ck_assert_uint_eq(bw_utf8_seq((const unsigned char *)"\xc3\xa9", 2,
	    &cp), 2);
	ck_assert_uint_eq(cp, 0xe9);
	ck_assert_uint_eq(bw_utf8_seq((const unsigned char *)"\xf4\x8f\xbf"
	    "\xbf", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x10ffff);
	ck_assert_uint_eq(bw_utf8_seq((const unsigned char *)"\xc3\xa9", 1,
	    &cp), 0);
	ck_assert_uint_eq(bw_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3,
	    &cp), 0);
	ck_assert_uint_eq(bw_utf8_scan("ab\xc3\xa9\xff", 5), 4);
	ck_assert_uint_eq(bw_utf8_scan("ab\xe2\x82", 4), 2);
	ck_assert_uint_eq(bw_utf8_scan("ab", 2), 2);
}
END_TEST

START_TEST(ct_and_wipe)
{
	char	 a[8] = "secret!", b[8] = "secret!", c[8] = "secreT!";

	ck_assert(bw_ct_equal(a, b, sizeof(a)));
	ck_assert(!bw_ct_equal(a, c, sizeof(a)));
	bw_wipe(a, sizeof(a));
	ck_assert_mem_eq(a, "\0\0\0\0\0\0\0\0", 8);
}
END_TEST

START_TEST(random_bytes)
{
	unsigned char	 a[32] = { 0 }, b[32] = { 0 };

	ck_assert_int_eq(bw_random(a, sizeof(a)), 0);
	ck_assert_int_eq(bw_random(b, sizeof(b)), 0);
	ck_assert(!bw_ct_equal(a, b, sizeof(a)));
}
END_TEST

START_TEST(time_helpers)
{
	struct timeval	 tv;
	int64_t		 a, b;

	bw_ms_to_tv(1500, &tv);
	ck_assert_int_eq(tv.tv_sec, 1);
	ck_assert_int_eq(tv.tv_usec, 500000);
	bw_ms_to_tv(0, &tv);
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 0);
	a = bw_now_ms();
	usleep(20000);
	b = bw_now_ms();
	ck_assert_int_ge(b - a, 15);
}
END_TEST

START_TEST(strlcpy_bounds)
{
	char	 buf[4];

	ck_assert_uint_eq(bw_strlcpy(buf, "abcdef", sizeof(buf)), 6);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(bw_strlcpy(buf, "ab", sizeof(buf)), 2);
	ck_assert_str_eq(buf, "ab");
}
END_TEST

START_TEST(diag_order_and_bound)
{
	struct bw_diag	 d = { 0 };
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*fp;
	int		 i;

	bw_diag_add(&d, "a.yaml", 9, 3, "third");
	bw_diag_add(&d, "a.yaml", 2, 5, "first");
	bw_diag_warn(&d, "a.yaml", 2, 7, "second");
	ck_assert_uint_eq(d.errors, 2);
	fp = open_memstream(&text, &len);
	bw_diag_print(&d, fp);
	fclose(fp);
	ck_assert_str_eq(text, "a.yaml:2:5: first\n"
	    "a.yaml:2:7: warning: second\n"
	    "a.yaml:9:3: third\n");
	free(text);
	/* The same message at the same place is printed once, counted twice. */
	bw_diag_add(&d, "a.yaml", 9, 3, "third");
	ck_assert_uint_eq(d.errors, 3);
	ck_assert_uint_eq(d.n, 3);
	for (i = 0; i < BW_DIAG_MAX + 5; i++)
		bw_diag_add(&d, "a.yaml", i + 1, 1, "e%d", i);
	ck_assert_uint_eq(d.errors, BW_DIAG_MAX);
	ck_assert(d.overflow);
	bw_diag_free(&d);
	ck_assert_uint_eq(d.n, 0);
}
END_TEST

START_TEST(format_bounds)
{
	struct bw_diag	 d = { 0 };
	char		 buf[8], big[600];
	size_t		 len;

	ck_assert(bw_format(buf, sizeof(buf), "%s", "1234567"));
	ck_assert_str_eq(buf, "1234567");
	ck_assert(!bw_format(buf, sizeof(buf), "%s%d", "1234567", 8));
	ck_assert_str_eq(buf, "1234...");
	/* The cut never splits a UTF-8 sequence (U+00E9 at bytes 3-4). */
	ck_assert(!bw_format(buf, sizeof(buf), "abc\xc3\xa9%s", "xyz"));
	ck_assert_str_eq(buf, "abc...");
	/* Too small for the mark: empty, and reported. */
	ck_assert(!bw_format(buf, 3, "%s", "abcdef"));
	ck_assert_str_eq(buf, "");
	ck_assert(bw_format(buf, 3, "%s", "ab"));
	ck_assert_str_eq(buf, "ab");
	/* An output error (U+20AC has no encoding in the C locale). */
	ck_assert(!bw_format(buf, sizeof(buf), "%lc", (wint_t)0x20ac));
	ck_assert_str_eq(buf, "?");
	/* A diagnostic longer than its 512-byte buffer shows the cut. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bw_diag_add(&d, "a.yaml", 1, 1, "%s", big);
	ck_assert_uint_eq(d.n, 1);
	len = strlen(d.v[0].msg);
	ck_assert_uint_eq(len, 511);
	ck_assert_str_eq(d.v[0].msg + len - 3, "...");
	bw_diag_free(&d);
}
END_TEST

START_TEST(read_text)
{
	char	 dir[] = "/tmp/bw-util-XXXXXX", path[64], buf[8];
	FILE	*f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(bw_read_text(AT_FDCWD, path, 0, buf, sizeof(buf)),
	    -1);				/* missing */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(bw_read_text(AT_FDCWD, path, 0, buf, sizeof(buf)),
	    -1);				/* empty */
	f = fopen(path, "w");
	fputs("0123456789", f);
	fclose(f);
	ck_assert_int_eq(bw_read_text(AT_FDCWD, path, 0, buf, sizeof(buf)),
	    7);				/* cut at size - 1, NUL-ended */
	ck_assert_str_eq(buf, "0123456");
	ck_assert_int_eq(bw_read_text(AT_FDCWD, path, 0, buf, 0), -1);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Bytes, nothing waiting (0, not blocking), then end of stream or error. */
START_TEST(recv_some)
{
	char	 buf[4];
	int	 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(bw_recv_some(sv[0], buf, sizeof(buf)), 0);
	ck_assert_int_eq(write(sv[1], "abcdef", 6), 6);
	ck_assert_int_eq(bw_recv_some(sv[0], buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "abcd", 4);
	ck_assert_int_eq(bw_recv_some(sv[0], buf, sizeof(buf)), 2);
	ck_assert_mem_eq(buf, "ef", 2);
	ck_assert_int_eq(bw_recv_some(sv[0], buf, sizeof(buf)), 0);
	close(sv[1]);
	errno = EINVAL;
	ck_assert_int_eq(bw_recv_some(sv[0], buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, 0);			/* the peer closed */
	close(sv[0]);
	errno = 0;
	ck_assert_int_eq(bw_recv_some(sv[0], buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EBADF);			/* a failed socket */
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tcase_create("util");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, duration_units);
	tcase_add_test(tc, read_text);
	tcase_add_test(tc, recv_some);
	tcase_add_test(tc, duration_refused);
	tcase_add_test(tc, size_units);
	tcase_add_test(tc, rates);
	tcase_add_test(tc, uint_parse);
	tcase_add_test(tc, b64url_round_trip);
	tcase_add_test(tc, b64url_strict);
	tcase_add_test(tc, hex);
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, b64_standard);
	tcase_add_test(tc, char_classes);
	tcase_add_test(tc, utf8_seq_scan);
	tcase_add_test(tc, ct_and_wipe);
	tcase_add_test(tc, random_bytes);
	tcase_add_test(tc, time_helpers);
	tcase_add_test(tc, strlcpy_bounds);
	tcase_add_test(tc, diag_order_and_bound);
	tcase_add_test(tc, format_bounds);
	suite_add_tcase(s, tc);
	return s;
}
