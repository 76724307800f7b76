/*
 * test_rbac.c - the role graph: inheritance chains and diamonds, the SPEC 4
 * example, public routes, deny by default, unknown roles ignored, sorted
 * and quoted name lists, the 256-role bound, and graphs the loader would
 * refuse handed to rbac_new() directly.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "conf.h"
#include "rbac.h"
#include "util.h"

#define BASE	"version: 1\nserver:\n  plaintext: true\n" \
		"  trusted_proxies: [127.0.0.1]\n" \
		"database:\n  conninfo: \"dbname=app\"\n"

#define SPEC_ROLES \
	"roles:\n" \
	"  admin:  {inherits: [editor]}\n" \
	"  editor: {inherits: [reader]}\n" \
	"  reader: {}\n"

#define ROUTE(name, path, roles) \
	"  - {name: " name ", method: GET, path: " path ", roles: " roles \
	", sql: \"SELECT 1\"}\n"

struct fixture {
	struct conf	*conf;
	struct rbac	*rbac;
	struct bw_diag	 diag;
};

static void
load(struct fixture *f, const char *yaml)
{
	memset(f, 0, sizeof(*f));
	f->conf = conf_load_buffer("t.yaml", yaml, strlen(yaml), &f->diag);
	if (f->conf != NULL)
		f->rbac = rbac_new(f->conf, &f->diag);
	if (f->diag.errors > 0)
		bw_diag_print(&f->diag, stdout);
	ck_assert_ptr_nonnull(f->conf);
	ck_assert_ptr_nonnull(f->rbac);
	ck_assert_uint_eq(f->diag.errors, 0);
}

static void
unload(struct fixture *f)
{
	rbac_free(f->rbac);
	conf_free(f->conf);
	bw_diag_free(&f->diag);
}

static const struct conf_route *
route(const struct fixture *f, const char *name)
{
	size_t	 i;

	for (i = 0; i < f->conf->nroutes; i++)
		if (strcmp(f->conf->routes[i].name, name) == 0)
			return &f->conf->routes[i];
	ck_abort_msg("no route %s", name);
	return NULL;
}

static void
effective(const struct fixture *f, const char *const *names, size_t n,
    struct rbac_set *s, size_t unknown)
{
	ck_assert_uint_eq(rbac_effective(f->rbac, names, n, s), unknown);
}

static void
assert_names(const struct fixture *f, const struct rbac_set *s,
    const char *pg, const char *list)
{
	char	 buf[RBAC_NAMES_MAX];

	ck_assert_uint_eq(rbac_set_names(f->rbac, s, RBAC_FMT_PGARRAY, buf,
	    sizeof(buf)), strlen(pg));
	ck_assert_str_eq(buf, pg);
	ck_assert_uint_eq(rbac_set_names(f->rbac, s, RBAC_FMT_LIST, buf,
	    sizeof(buf)), strlen(list));
	ck_assert_str_eq(buf, list);
}

/* SPEC 4: admin inherits editor inherits reader. */
START_TEST(spec_example)
{
	static const char	*const admin[] = { "admin" };
	static const char	*const editor[] = { "editor" };
	static const char	*const reader[] = { "reader" };
	struct fixture		 f;
	struct rbac_set		 sa, se, sr, none;

	load(&f, BASE SPEC_ROLES "routes:\n"
	    ROUTE("get_note", "/notes", "[reader]")
	    ROUTE("edit", "/edit", "[editor]")
	    ROUTE("admin_only", "/admin", "[admin]")
	    ROUTE("open", "/open", "[public]"));
	ck_assert_uint_eq(rbac_nroles(f.rbac), 3);
	effective(&f, admin, 1, &sa, 0);
	effective(&f, editor, 1, &se, 0);
	effective(&f, reader, 1, &sr, 0);
	effective(&f, NULL, 0, &none, 0);
	ck_assert_uint_eq(rbac_set_count(&sa), 3);
	ck_assert_uint_eq(rbac_set_count(&se), 2);
	ck_assert_uint_eq(rbac_set_count(&sr), 1);
	ck_assert_uint_eq(rbac_set_count(&none), 0);
	assert_names(&f, &sa, "{admin,editor,reader}", "admin,editor,reader");
	assert_names(&f, &se, "{editor,reader}", "editor,reader");
	assert_names(&f, &sr, "{reader}", "reader");
	assert_names(&f, &none, "{}", "");

	ck_assert(rbac_allows(f.rbac, &sa, route(&f, "get_note")));
	ck_assert(rbac_allows(f.rbac, &se, route(&f, "get_note")));
	ck_assert(rbac_allows(f.rbac, &sr, route(&f, "get_note")));
	ck_assert(rbac_allows(f.rbac, &sa, route(&f, "edit")));
	ck_assert(rbac_allows(f.rbac, &se, route(&f, "edit")));
	ck_assert(!rbac_allows(f.rbac, &sr, route(&f, "edit")));
	ck_assert(rbac_allows(f.rbac, &sa, route(&f, "admin_only")));
	ck_assert(!rbac_allows(f.rbac, &se, route(&f, "admin_only")));
	ck_assert(!rbac_allows(f.rbac, &sr, route(&f, "admin_only")));
	/* Deny by default: no roles, no credentials. */
	ck_assert(!rbac_allows(f.rbac, &none, route(&f, "get_note")));
	ck_assert(!rbac_allows(f.rbac, NULL, route(&f, "get_note")));
	ck_assert(!rbac_allows(f.rbac, &sa, NULL));
	/* public admits everyone, with or without credentials. */
	ck_assert(rbac_allows(f.rbac, NULL, route(&f, "open")));
	ck_assert(rbac_allows(f.rbac, &none, route(&f, "open")));
	ck_assert(rbac_allows(f.rbac, &sr, route(&f, "open")));
	ck_assert(rbac_route_public(f.rbac, route(&f, "open")));
	ck_assert(!rbac_route_public(f.rbac, route(&f, "get_note")));
	ck_assert(!rbac_route_public(f.rbac, NULL));
	unload(&f);
}
END_TEST

/* Routes listing several roles, public among others. */
START_TEST(route_lists)
{
	static const char	*const reader[] = { "reader" };
	static const char	*const other[] = { "auditor" };
	struct fixture		 f;
	struct rbac_set		 sr, so;

	load(&f, BASE SPEC_ROLES "  auditor: {}\nroutes:\n"
	    ROUTE("two", "/two", "[admin, auditor]")
	    ROUTE("mixed", "/mixed", "[admin, public]"));
	effective(&f, reader, 1, &sr, 0);
	effective(&f, other, 1, &so, 0);
	ck_assert(!rbac_allows(f.rbac, &sr, route(&f, "two")));
	ck_assert(rbac_allows(f.rbac, &so, route(&f, "two")));
	ck_assert(rbac_allows(f.rbac, NULL, route(&f, "mixed")));
	ck_assert(rbac_allows(f.rbac, &sr, route(&f, "mixed")));
	unload(&f);
}
END_TEST

START_TEST(diamond)
{
	static const char	*const top[] = { "top" };
	static const char	*const both[] = { "left", "right" };
	struct fixture		 f;
	struct rbac_set		 st, sb;

	load(&f, BASE "roles:\n"
	    "  top: {inherits: [left, right]}\n"
	    "  left: {inherits: [base]}\n"
	    "  right: {inherits: [base]}\n"
	    "  base: {}\n"
	    "routes:\n" ROUTE("b", "/b", "[base]") ROUTE("t", "/t", "[top]"));
	effective(&f, top, 1, &st, 0);
	ck_assert_uint_eq(rbac_set_count(&st), 4);
	assert_names(&f, &st, "{base,left,right,top}", "base,left,right,top");
	effective(&f, both, 2, &sb, 0);
	assert_names(&f, &sb, "{base,left,right}", "base,left,right");
	ck_assert(rbac_allows(f.rbac, &sb, route(&f, "b")));
	ck_assert(!rbac_allows(f.rbac, &sb, route(&f, "t")));
	ck_assert(rbac_allows(f.rbac, &st, route(&f, "t")));
	unload(&f);
}
END_TEST

/* Inheritance that zigzags between low and high ids: b > d > a > c. */
START_TEST(zigzag)
{
	static const char	*const b[] = { "b" };
	struct fixture		 f;
	struct rbac_set		 s;

	load(&f, BASE "roles:\n  a: {inherits: [c]}\n  b: {inherits: [d]}\n"
	    "  c: {}\n  d: {inherits: [a]}\nroutes:\n"
	    ROUTE("c", "/c", "[c]"));
	effective(&f, b, 1, &s, 0);
	assert_names(&f, &s, "{a,b,c,d}", "a,b,c,d");
	ck_assert(rbac_allows(f.rbac, &s, route(&f, "c")));
	unload(&f);
}
END_TEST

/*
 * The loader's bound: 256 roles in one chain (ids cross every 64-bit word
 * of a set), r000 -> r001 -> ... -> r255 and, in the second run, the other
 * way round (ids inherit from lower ids), so that the closure does not
 * depend on the order roles are numbered in.
 */
START_TEST(long_chain)
{
	static const char	*const names[] = { "r000", "r128", "r255" };
	const char		*const *head = names, *const *mid = names + 1,
				*const *tail = names + 2;
	struct fixture		 f;
	struct rbac_set		 s;
	char			*y, buf[RBAC_NAMES_MAX];
	size_t			 o = 0, sz = 64 * 1024, i;
	int			 id, n;

	y = bw_malloc(sz);
	o += (size_t)snprintf(y + o, sz - o, "%sroles:\n", BASE);
	if (_i == 1) {
		head = names + 2;
		tail = names;
	}
	for (i = 0; i < RBAC_MAX_ROLES; i++) {
		if (_i == 0 && i + 1 < RBAC_MAX_ROLES)
			o += (size_t)snprintf(y + o, sz - o,
			    "  r%03zu: {inherits: [r%03zu]}\n", i, i + 1);
		else if (_i == 1 && i > 0)
			o += (size_t)snprintf(y + o, sz - o,
			    "  r%03zu: {inherits: [r%03zu]}\n", i, i - 1);
		else
			o += (size_t)snprintf(y + o, sz - o, "  r%03zu: {}\n",
			    i);
	}
	snprintf(y + o, sz - o, "routes:\n" ROUTE("t", "/t", "[%s]")
	    ROUTE("h", "/h", "[%s]"), tail[0], head[0]);
	load(&f, y);
	free(y);
	ck_assert_uint_eq(rbac_nroles(f.rbac), RBAC_MAX_ROLES);
	effective(&f, head, 1, &s, 0);
	ck_assert_uint_eq(rbac_set_count(&s), RBAC_MAX_ROLES);
	ck_assert(rbac_allows(f.rbac, &s, route(&f, "t")));
	ck_assert(rbac_allows(f.rbac, &s, route(&f, "h")));
	/* In order, across word boundaries. */
	for (n = 0, id = rbac_set_next(f.rbac, &s, -1); id != -1;
	    id = rbac_set_next(f.rbac, &s, id), n++)
		ck_assert_int_eq(id, n);
	ck_assert_int_eq(n, RBAC_MAX_ROLES);
	ck_assert_uint_eq(rbac_set_names(f.rbac, &s, RBAC_FMT_PGARRAY, buf,
	    sizeof(buf)), 2 + RBAC_MAX_ROLES * 5 - 1);
	ck_assert(strncmp(buf, "{r000,r001,", 11) == 0);
	ck_assert_ptr_nonnull(strstr(buf, ",r063,r064,"));
	effective(&f, mid, 1, &s, 0);
	ck_assert_uint_eq(rbac_set_count(&s), _i == 0 ? 128 : 129);
	ck_assert_int_eq(rbac_set_next(f.rbac, &s, -1), _i == 0 ? 128 : 0);
	ck_assert(!rbac_allows(f.rbac, &s, route(&f, "h")));
	ck_assert(rbac_allows(f.rbac, &s, route(&f, "t")));
	effective(&f, tail, 1, &s, 0);
	ck_assert_uint_eq(rbac_set_count(&s), 1);
	ck_assert(rbac_set_has(&s, _i == 0 ? 255 : 0));
	ck_assert(!rbac_set_has(&s, 256));
	ck_assert(!rbac_set_has(&s, -1));
	ck_assert(!rbac_allows(f.rbac, &s, route(&f, "h")));
	ck_assert_int_eq(rbac_set_next(f.rbac, &s, _i == 0 ? 255 : 0), -1);
	unload(&f);
}
END_TEST

/* 256 roles of 63 characters, all in one set: RBAC_NAMES_MAX suffices. */
START_TEST(names_max)
{
	struct fixture		 f;
	struct rbac_set		 s;
	const char		*all[RBAC_MAX_ROLES];
	char			*y, *buf, name[RBAC_NAME_MAX + 1];
	size_t			 o = 0, sz = 64 * 1024, i, len;

	y = bw_malloc(sz);
	o += (size_t)snprintf(y + o, sz - o, "%sroles:\n", BASE);
	for (i = 0; i < RBAC_MAX_ROLES; i++) {
		memset(name, 'x', RBAC_NAME_MAX);
		snprintf(name, sizeof(name), "r%03zu", i);
		name[4] = 'x';
		name[RBAC_NAME_MAX] = '\0';
		o += (size_t)snprintf(y + o, sz - o, "  %s: {}\n", name);
	}
	snprintf(y + o, sz - o, "routes: []\n");
	load(&f, y);
	free(y);
	for (i = 0; i < RBAC_MAX_ROLES; i++)
		all[i] = rbac_role_name(f.rbac, (int)i);
	ck_assert_ptr_null(rbac_role_name(f.rbac, RBAC_MAX_ROLES));
	ck_assert_ptr_null(rbac_role_name(f.rbac, -1));
	effective(&f, all, RBAC_MAX_ROLES, &s, 0);
	buf = bw_malloc(RBAC_NAMES_MAX);
	len = rbac_set_names(f.rbac, &s, RBAC_FMT_PGARRAY, buf,
	    RBAC_NAMES_MAX);
	ck_assert_uint_eq(len, 2 + RBAC_MAX_ROLES * (RBAC_NAME_MAX + 1) - 1);
	ck_assert_uint_lt(len, RBAC_NAMES_MAX);
	ck_assert_uint_eq(strlen(buf), len);
	free(buf);
	unload(&f);
}
END_TEST

START_TEST(unknown_ignored)
{
	static const char	*const names[] = {
		"ghost", "reader", "public", "READER", "", "reader",
	};
	static const char	*const with_null[] = { "editor", NULL };
	struct fixture		 f;
	struct rbac_set		 s;

	load(&f, BASE SPEC_ROLES "routes:\n"
	    ROUTE("r", "/r", "[reader]") ROUTE("e", "/e", "[editor]"));
	effective(&f, names, BW_ARRAY_LEN(names), &s, 4);
	assert_names(&f, &s, "{reader}", "reader");
	ck_assert(rbac_allows(f.rbac, &s, route(&f, "r")));
	ck_assert(!rbac_allows(f.rbac, &s, route(&f, "e")));
	/* Only unknown names: the empty set, denied everywhere. */
	effective(&f, names, 1, &s, 1);
	ck_assert_uint_eq(rbac_set_count(&s), 0);
	ck_assert(!rbac_allows(f.rbac, &s, route(&f, "r")));
	effective(&f, with_null, 2, &s, 1);
	assert_names(&f, &s, "{editor,reader}", "editor,reader");
	ck_assert_int_eq(rbac_role_id(f.rbac, "ghost"), -1);
	ck_assert_int_eq(rbac_role_id(f.rbac, "public"), -1);
	unload(&f);
}
END_TEST

/* Output is sorted by name whatever the order of the configuration. */
START_TEST(sorted_and_quoted)
{
	static const char	*const names[] = { "zeta", "mid", "alpha",
		"null", "zeta" };
	struct fixture		 f;
	struct rbac_set		 s;
	char			 small[8];

	load(&f, BASE "roles:\n  zeta: {}\n  mid: {inherits: [alpha]}\n"
	    "  alpha: {}\n  \"null\": {}\nroutes: []\n");
	ck_assert_int_eq(rbac_role_id(f.rbac, "alpha"), 0);
	ck_assert_int_eq(rbac_role_id(f.rbac, "zeta"), 3);
	ck_assert_str_eq(rbac_role_name(f.rbac, 2), "null");
	effective(&f, names + 1, 1, &s, 0);
	assert_names(&f, &s, "{alpha,mid}", "alpha,mid");
	effective(&f, names, BW_ARRAY_LEN(names), &s, 0);
	/* A PostgreSQL array element spelled null would be a NULL. */
	assert_names(&f, &s, "{alpha,mid,\"null\",zeta}",
	    "alpha,mid,null,zeta");
	/* snprintf semantics: full length returned, output cut and ended. */
	ck_assert_uint_eq(rbac_set_names(f.rbac, &s, RBAC_FMT_LIST, small,
	    sizeof(small)), 19);
	ck_assert_str_eq(small, "alpha,m");
	ck_assert_uint_eq(rbac_set_names(f.rbac, &s, RBAC_FMT_PGARRAY, small,
	    1), 23);
	ck_assert_str_eq(small, "");
	ck_assert_uint_eq(rbac_set_names(f.rbac, &s, RBAC_FMT_PGARRAY, NULL,
	    0), 23);
	unload(&f);
}
END_TEST

/* Routes and roles without roles: section, public only. */
START_TEST(no_roles)
{
	struct fixture		 f;
	struct rbac_set		 s;

	load(&f, BASE "routes:\n" ROUTE("p", "/p", "[public]"));
	ck_assert_uint_eq(rbac_nroles(f.rbac), 0);
	effective(&f, NULL, 0, &s, 0);
	ck_assert(rbac_allows(f.rbac, NULL, route(&f, "p")));
	ck_assert(rbac_allows(f.rbac, &s, route(&f, "p")));
	ck_assert_int_eq(rbac_set_next(f.rbac, &s, -1), -1);
	unload(&f);
}
END_TEST

/* A route from elsewhere (not in conf->routes) is checked by name. */
START_TEST(foreign_route)
{
	static const char	*const reader[] = { "reader" };
	char			*r_reader[] = { "reader" };
	char			*r_public[] = { "public" };
	char			*r_ghost[] = { "ghost" };
	struct conf_route	 cr;
	struct fixture		 f;
	struct rbac_set		 s;

	load(&f, BASE SPEC_ROLES "routes:\n" ROUTE("a", "/a", "[admin]"));
	effective(&f, reader, 1, &s, 0);
	memset(&cr, 0, sizeof(cr));
	cr.roles = r_reader;
	cr.nroles = 1;
	ck_assert(rbac_allows(f.rbac, &s, &cr));
	ck_assert(!rbac_allows(f.rbac, NULL, &cr));
	ck_assert(!rbac_route_public(f.rbac, &cr));
	cr.roles = r_public;
	ck_assert(rbac_allows(f.rbac, NULL, &cr));
	ck_assert(rbac_route_public(f.rbac, &cr));
	cr.roles = r_ghost;
	ck_assert(!rbac_allows(f.rbac, &s, &cr));
	cr.nroles = 0;
	ck_assert(!rbac_allows(f.rbac, &s, &cr));
	/* A copy of a configured route behaves as the original. */
	cr = *route(&f, "a");
	ck_assert(!rbac_allows(f.rbac, &s, &cr));
	effective(&f, (const char *const[]){ "admin" }, 1, &s, 0);
	ck_assert(rbac_allows(f.rbac, &s, &cr));
	unload(&f);
}
END_TEST

/*
 * Graphs the loader refuses, handed to rbac_new() directly: it reports
 * instead of trusting, and a cycle cannot hang or overflow it.
 */
static struct conf_role *
mkrole(struct conf_role *r, char *name, char **inherits, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->inherits = inherits;
	r->ninherits = n;
	r->pos.line = 3;
	r->pos.col = 4;
	return r;
}

static size_t
new_errors(struct conf *cf, const char *msg)
{
	struct bw_diag	 d = { 0 };
	struct rbac	*r;
	size_t		 n;

	r = rbac_new(cf, &d);
	ck_assert_ptr_null(r);
	ck_assert_uint_ge(d.n, 1);
	ck_assert_msg(strstr(d.v[0].msg, msg) != NULL, "%s", d.v[0].msg);
	n = d.errors;
	bw_diag_free(&d);
	return n;
}

START_TEST(hand_made)
{
	char			*a_in[] = { "b" }, *b_in[] = { "a" };
	char			*ghost[] = { "ghost" }, *rr[] = { "a" };
	char			*pub[] = { "public" };
	static const char	*const a[] = { "a" };
	struct conf_role	 roles[RBAC_MAX_ROLES + 1];
	struct conf_route	 routes[1];
	char			 names[RBAC_MAX_ROLES + 1][8];
	struct conf		 cf;
	struct bw_diag		 d = { 0 };
	struct rbac		*r;
	struct rbac_set		 s;
	size_t			 i;

	memset(&cf, 0, sizeof(cf));
	cf.file = "hand.yaml";
	cf.roles = roles;
	memset(routes, 0, sizeof(routes));
	cf.routes = routes;
	routes[0].name = "x";
	routes[0].roles = rr;
	routes[0].nroles = 1;
	cf.nroutes = 1;

	/* A cycle: both reach both, no hang. */
	mkrole(&roles[0], "a", a_in, 1);
	mkrole(&roles[1], "b", b_in, 1);
	cf.nroles = 2;
	ck_assert_ptr_nonnull(r = rbac_new(&cf, &d));
	ck_assert_uint_eq(rbac_effective(r, a, 1, &s), 0);
	ck_assert_uint_eq(rbac_set_count(&s), 2);
	ck_assert(rbac_allows(r, &s, &routes[0]));
	rbac_free(r);
	bw_diag_free(&d);

	mkrole(&roles[1], "b", ghost, 1);
	ck_assert_uint_eq(new_errors(&cf, "inherits unknown role 'ghost'"), 1);
	mkrole(&roles[1], "B", NULL, 0);
	new_errors(&cf, "invalid role name 'B'");
	mkrole(&roles[1], "public", NULL, 0);
	new_errors(&cf, "invalid role name 'public'");
	mkrole(&roles[1], "1x", NULL, 0);
	new_errors(&cf, "invalid role name '1x'");
	mkrole(&roles[1], "a", NULL, 0);
	new_errors(&cf, "duplicate role 'a'");
	mkrole(&roles[1], "b", NULL, 0);
	routes[0].roles = ghost;
	new_errors(&cf, "unknown role 'ghost'");
	routes[0].nroles = 0;
	new_errors(&cf, "no roles on route 'x'");
	routes[0].roles = pub;
	routes[0].nroles = 1;
	ck_assert_ptr_nonnull(r = rbac_new(&cf, &d));
	ck_assert(rbac_allows(r, NULL, &routes[0]));
	rbac_free(r);

	for (i = 0; i <= RBAC_MAX_ROLES; i++) {
		snprintf(names[i], sizeof(names[i]), "r%zu", i);
		mkrole(&roles[i], names[i], NULL, 0);
	}
	cf.nroles = RBAC_MAX_ROLES + 1;
	new_errors(&cf, "at most 256 roles");
	cf.nroles = RBAC_MAX_ROLES;
	ck_assert_ptr_nonnull(r = rbac_new(&cf, &d));
	rbac_free(r);
	bw_diag_free(&d);
	rbac_free(NULL);
}
END_TEST

/* A 63-character name is the longest; 64 is refused. */
START_TEST(name_length)
{
	char			 n63[64], n64[65];
	struct conf_role	 roles[1];
	struct conf		 cf;
	struct bw_diag		 d = { 0 };
	struct rbac		*r;

	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(&cf, 0, sizeof(cf));
	cf.roles = roles;
	cf.nroles = 1;
	mkrole(&roles[0], n63, NULL, 0);
	ck_assert_ptr_nonnull(r = rbac_new(&cf, &d));
	rbac_free(r);
	mkrole(&roles[0], n64, NULL, 0);
	new_errors(&cf, "invalid role name");
	bw_diag_free(&d);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("rbac");
	TCase	*tc = tcase_create("rbac");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, spec_example);
	tcase_add_test(tc, route_lists);
	tcase_add_test(tc, diamond);
	tcase_add_test(tc, zigzag);
	tcase_add_loop_test(tc, long_chain, 0, 2);
	tcase_add_test(tc, names_max);
	tcase_add_test(tc, unknown_ignored);
	tcase_add_test(tc, sorted_and_quoted);
	tcase_add_test(tc, no_roles);
	tcase_add_test(tc, foreign_route);
	tcase_add_test(tc, hand_made);
	tcase_add_test(tc, name_length);
	suite_add_tcase(s, tc);
	return s;
}
