/*
 * t_san.c - unit tests of http_san_ip_match(): iPAddress names in DER
 *
 * Certificates are built here byte by byte, as X.690 DER and RFC 5280
 * 4.1 and 4.2.1.6 define them: Certificate ::= SEQUENCE { tbsCertificate,
 * signatureAlgorithm, signature }, the extensions in tbsCertificate's
 * [3], subjectAltName (OID 2.5.29.17) holding GeneralNames, iPAddress
 * [7] IMPLICIT OCTET STRING of 4 or 16 octets, dNSName [2] IA5String.
 * Expectations come from those texts: an address matches an iPAddress
 * of the same octets only; a dNSName never matches; what is not DER
 * (long length forms not the shortest, indefinite lengths, lengths past
 * their container, two subjectAltName extensions, critical FALSE
 * written out) is refused, as is every truncation. Certificates made by
 * openssl (the fuzzer's seeds) are read too. Every byte of a good
 * certificate is also changed to each of a few values, for the
 * sanitizers to watch.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "detach.h"
#include "tests/t.h"

struct blob {
	unsigned char b[8192];
	size_t	n;
};

static void
put(struct blob *o, const void *p, size_t n)
{
	if (n > sizeof(o->b) - o->n) {
		fprintf(stderr, "t_san: blob full\n");
		exit(1);
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

/* raw - a TLV with the shortest DER length */
static void
raw(struct blob *o, int tag, const void *p, size_t n)
{
	unsigned char h[4];
	size_t k = 0;

	h[k++] = (unsigned char)tag;
	if (n < 0x80)
		h[k++] = (unsigned char)n;
	else if (n < 0x100) {
		h[k++] = 0x81;
		h[k++] = (unsigned char)n;
	} else {
		h[k++] = 0x82;
		h[k++] = (unsigned char)(n >> 8);
		h[k++] = (unsigned char)n;
	}
	put(o, h, k);
	put(o, p, n);
}

static void
tlv(struct blob *o, int tag, const struct blob *c)
{
	raw(o, tag, c->b, c->n);
}

static const unsigned char oid_san[] = {0x55, 0x1d, 0x11};
static const unsigned char oid_bc[] = {0x55, 0x1d, 0x13};
static const unsigned char v4[] = {127, 0, 0, 1};
static const unsigned char v4b[] = {127, 0, 0, 2};
static const unsigned char v6[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 1};
static const unsigned char v4mapped[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
	0xff, 127, 0, 0, 1};

/* ext - one Extension: SEQUENCE { OID, [critical], OCTET STRING } */
static void
ext(struct blob *exts, const unsigned char *oid, size_t oidlen,
    const unsigned char *crit, size_t critlen, const struct blob *value)
{
	struct blob e = {{0}, 0}, os = {{0}, 0};

	raw(&e, 0x06, oid, oidlen);
	if (crit)
		put(&e, crit, critlen);
	tlv(&os, 0x30, value);		/* GeneralNames SEQUENCE */
	tlv(&e, 0x04, &os);
	tlv(exts, 0x30, &e);
}

/* cert - a certificate whose [3] holds exts (none when 0) */
static void
cert(struct blob *out, const struct blob *exts)
{
	static const unsigned char alg[] = {0x30, 0x0b, 0x06, 0x09, 0x2a,
		0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
	static const unsigned char name[] = {0x30, 0x0f, 0x31, 0x0d, 0x30,
		0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, 't', 'e', 's',
		't'};
	static const unsigned char validity[] = {0x30, 0x00};
	static const unsigned char spki[] = {0x30, 0x00};
	static const unsigned char version[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
	static const unsigned char serial[] = {0x02, 0x01, 0x01};
	static const unsigned char sig[] = {0x03, 0x01, 0x00};
	struct blob tbs = {{0}, 0}, c = {{0}, 0}, seq = {{0}, 0};

	put(&tbs, version, sizeof(version));
	put(&tbs, serial, sizeof(serial));
	put(&tbs, alg, sizeof(alg));
	put(&tbs, name, sizeof(name));
	put(&tbs, validity, sizeof(validity));
	put(&tbs, name, sizeof(name));
	put(&tbs, spki, sizeof(spki));
	if (exts) {
		tlv(&seq, 0x30, exts);
		tlv(&tbs, 0xa3, &seq);
	}
	tlv(&c, 0x30, &tbs);
	put(&c, alg, sizeof(alg));
	put(&c, sig, sizeof(sig));
	out->n = 0;
	tlv(out, 0x30, &c);
}

/* san_cert - a certificate with one subjectAltName of these names */
static void
san_cert(struct blob *out, const struct blob *names)
{
	struct blob exts = {{0}, 0};

	ext(&exts, oid_san, sizeof(oid_san), 0, 0, names);
	cert(out, &exts);
}

static int
m(const struct blob *c, const unsigned char *ip, size_t iplen)
{
	return (http_san_ip_match(c->b, c->n, ip, iplen));
}

static void
t_match(void)
{
	struct blob names = {{0}, 0}, c = {{0}, 0}, exts = {{0}, 0};
	static const unsigned char crit_true[] = {0x01, 0x01, 0xff};
	static const unsigned char crit_false[] = {0x01, 0x01, 0x00};
	static const unsigned char bc_value[] = {0x01, 0x01, 0xff};
	struct blob bc = {{0}, 0};
	int i;

	raw(&names, 0x87, v4, 4);
	san_cert(&c, &names);
	t_ok(m(&c, v4, 4) == 1, "IP:127.0.0.1 names 127.0.0.1");
	t_ok(m(&c, v4b, 4) == 0, "IP:127.0.0.1 does not name 127.0.0.2");
	t_ok(m(&c, v4mapped, 16) == 0,
	    "IP:127.0.0.1 does not name ::ffff:127.0.0.1 (lengths differ)");
	t_ok(m(&c, v4, 3) == -1 && m(&c, v4, 0) == -1,
	    "an address of 3 or 0 octets is refused");

	names.n = 0;
	raw(&names, 0x82, "127.0.0.1", 9);
	san_cert(&c, &names);
	t_ok(m(&c, v4, 4) == 0, "DNS:127.0.0.1 does not name 127.0.0.1");

	names.n = 0;
	raw(&names, 0x82, "localhost", 9);
	raw(&names, 0x86, "https://127.0.0.1/", 18);
	raw(&names, 0x81, "a@b", 3);
	raw(&names, 0x87, v6, 16);
	san_cert(&c, &names);
	t_ok(m(&c, v6, 16) == 1, "IP:::1 after other names names ::1");
	t_ok(m(&c, v4, 4) == 0, "IP:::1 does not name 127.0.0.1");

	names.n = 0;
	raw(&names, 0x87, v4mapped, 16);
	san_cert(&c, &names);
	t_ok(m(&c, v4, 4) == 0, "IP:::ffff:127.0.0.1 does not name 127.0.0.1");

	/* a name list long enough for the two-octet length form */
	names.n = 0;
	for (i = 0; i < 40; i++)
		raw(&names, 0x82, "host.example.org", 16);
	raw(&names, 0x87, v4, 4);
	san_cert(&c, &names);
	t_ok(c.n > 300 && m(&c, v4, 4) == 1,
	    "long SAN (0x82 lengths): the address found");

	cert(&c, 0);
	t_ok(m(&c, v4, 4) == 0, "no extensions: no name");

	bc.n = 0;
	put(&bc, bc_value, sizeof(bc_value));
	exts.n = 0;
	ext(&exts, oid_bc, sizeof(oid_bc), 0, 0, &bc);
	cert(&c, &exts);
	t_ok(m(&c, v4, 4) == 0, "extensions without subjectAltName: no name");

	names.n = 0;
	raw(&names, 0x87, v4, 4);
	exts.n = 0;
	ext(&exts, oid_bc, sizeof(oid_bc), crit_true, 3, &bc);
	ext(&exts, oid_san, sizeof(oid_san), crit_true, 3, &names);
	cert(&c, &exts);
	t_ok(m(&c, v4, 4) == 1, "critical subjectAltName after another "
	    "extension: the address found");

	exts.n = 0;
	ext(&exts, oid_san, sizeof(oid_san), crit_false, 3, &names);
	cert(&c, &exts);
	t_ok(m(&c, v4, 4) == -1, "critical FALSE written out: not DER");

	exts.n = 0;
	ext(&exts, oid_san, sizeof(oid_san), 0, 0, &names);
	ext(&exts, oid_san, sizeof(oid_san), 0, 0, &names);
	cert(&c, &exts);
	t_ok(m(&c, v4, 4) == -1, "two subjectAltName extensions: refused");

	names.n = 0;
	raw(&names, 0x87, v4, 4);
	raw(&names, 0x87, "\x7f\0\0\1\0", 5);
	san_cert(&c, &names);
	t_ok(m(&c, v4, 4) == -1, "an iPAddress of 5 octets: refused");

	names.n = 0;
	san_cert(&c, &names);
	t_ok(m(&c, v4, 4) == -1, "empty GeneralNames: refused");
}

static void
t_der(void)
{
	struct blob names = {{0}, 0}, c = {{0}, 0}, bad;
	size_t i, bad_prefix = 0, odd = 0;
	unsigned v;
	int r;
	static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0x81,
		0x82, 0x84, 0x85, 0xff, 0x1f, 0x30, 0x87};

	raw(&names, 0x87, v4, 4);
	san_cert(&c, &names);

	/* every proper prefix is short of the outer length */
	for (i = 0; i < c.n; i++)
		if (http_san_ip_match(c.b, i, v4, 4) != -1)
			bad_prefix++;
	t_ok(bad_prefix == 0, "each of the %zu truncations refused", c.n);

	bad = c;
	bad.b[bad.n++] = 0;
	t_ok(m(&bad, v4, 4) == -1, "a byte after the certificate: refused");

	/* the outer length in the long form, one octet, value < 128 */
	bad.n = 0;
	put(&bad, "\x30\x81", 2);
	put(&bad, c.b + 1, c.n - 1);
	t_ok(c.b[1] < 0x80 && m(&bad, v4, 4) == -1,
	    "a long length form where the short was due: refused");
	bad.n = 0;
	put(&bad, "\x30\x82\x00", 3);
	put(&bad, c.b + 1, c.n - 1);
	t_ok(m(&bad, v4, 4) == -1, "a length with a leading zero octet: "
	    "refused");
	bad.n = 0;
	put(&bad, "\x30\x80", 2);
	put(&bad, c.b + 2, c.n - 2);
	put(&bad, "\0\0", 2);
	t_ok(m(&bad, v4, 4) == -1, "an indefinite length (BER): refused");
	bad.n = 0;
	put(&bad, "\x30\x85\x00\x00\x00\x00\x10", 7);
	t_ok(m(&bad, v4, 4) == -1, "five length octets: refused");
	bad = c;
	bad.b[0] = 0x3f;
	t_ok(m(&bad, v4, 4) == -1, "a high tag number form: refused");
	bad = c;
	bad.b[1]++;
	t_ok(m(&bad, v4, 4) == -1, "an outer length past the end: refused");

	/* every byte changed to each of a few values: no read past the
	 * buffer (the sanitized build watches), a result in -1..1 */
	for (i = 0; i < c.n; i++)
		for (v = 0; v < sizeof(vals); v++) {
			bad = c;
			bad.b[i] = vals[v];
			r = m(&bad, v4, 4);
			if (r < -1 || r > 1)
				odd++;
		}
	t_ok(odd == 0, "%zu one-byte changes: results in -1..1",
	    c.n * sizeof(vals));
}

/* t_real - certificates openssl made (tests/fuzz/seed_san: a control
 * byte, then the DER): ip has IP:127.0.0.1 and IP:::1, good only
 * DNS:localhost, dnsip only DNS:127.0.0.1 */
static void
t_real(void)
{
	static const struct {
		const char *file;
		const unsigned char *ip;
		size_t	iplen;
		int	want;
	} c[] = {
		{"ip.der", v4, 4, 1},
		{"ip.der", v6, 16, 1},
		{"ip.der", v4b, 4, 0},
		{"good.der", v4, 4, 0},
		{"dnsip.der", v4, 4, 0},
	};
	struct blob b;
	char path[256];
	FILE *fp;
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(path, sizeof(path), "tests/fuzz/seed_san/%s",
		    c[i].file);
		if ((fp = fopen(path, "rb")) == 0) {
			t_ok(0, "open %s", path);
			continue;
		}
		b.n = fread(b.b, 1, sizeof(b.b), fp);
		fclose(fp);
		t_ok(b.n > 1 && http_san_ip_match(b.b + 1, b.n - 1, c[i].ip,
		    c[i].iplen) == c[i].want, "openssl's %s, %zu-octet "
		    "address: %d", c[i].file, c[i].iplen, c[i].want);
	}
}

int
main(void)
{
	t_match();
	t_der();
	t_real();
	return (t_failed != 0);
}
