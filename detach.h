/*
 * detach.h - shared declarations and limits of detach
 *
 * Every limit is a named constant here, with its reason. Modules:
 *	detach.c	main, configuration, logs, signals, the poll() loop, glue
 *	store.c		message jobs: spool, object keys, the dir store, splicing
 *	sweep.c		detach -x: expired objects out of a dir store
 *	restore.c	detach -R: link parts back to attachments
 *	mime.c		MIME scanner, decoders, link part (no I/O)
 *	b64.c		base64 block decoders (SIMD) under mime.c's decoder
 *	smtp.c		ESMTP server and client pieces, XFORWARD, dot codecs
 *	policy.c	whose mail is detached: address and network lists
 *	http.c		HTTP/1.1 PUT uploader, BearSSL, S3 SigV4
 *	priv.c		the `user` key: resolving it, giving up root
 *	metrics.c	the Prometheus endpoint of the proxy
 */
#ifndef DETACH_H
#define DETACH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bearssl_hash.h>

#define DETACH_VERSION	"0.1.0"

/* sysexits.h codes, spelled here so pipe mode's contract is visible. */
#define DETACH_EX_OK		0
#define DETACH_EX_USAGE		64
#define DETACH_EX_DATAERR	65	/* -R: object missing or altered */
#define DETACH_EX_SOFTWARE	70
#define DETACH_EX_OSERR		71
#define DETACH_EX_TEMPFAIL	75
#define DETACH_EX_CONFIG	78

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

/* RFC 2046 5.1.1: a boundary has 1 to 70 characters. Longer ones are
 * not ours to parse: such a multipart passes through whole. */
#define MIME_BOUNDARY_MAX	70

/* Nesting of multiparts and message/rfc822. Real mail stays under 10;
 * the limit bounds the stack against a message built to exhaust it.
 * Past it, the deepest part is opaque and passes through. */
#define MIME_DEPTH_MAX		32

/* One logical header field, unfolded. RFC 5322 allows any length with
 * folding; a longer Content-* field is not parsed and its part passes
 * through untouched. Other fields are skipped, never buffered. */
#define MIME_HEADER_MAX		8192

/* Bytes of a body line kept to recognise a delimiter line: "--",
 * the boundary, "--", and RFC 2046 transport padding. A longer line
 * is not a delimiter. */
#define MIME_PEEK_MAX		(2 + MIME_BOUNDARY_MAX + 2 + 56)

/* A media type "type/subtype", lowercased; longer ones are cut. */
#define MIME_TYPE_MAX		128

/* Bytes of a sanitized file name (UTF-8). Keeps the link under the
 * 998-byte header line limit of RFC 5322 2.1.1. */
#define MIME_NAME_MAX		200

/* The original part's Content-Type and Content-Disposition values,
 * unfolded, kept in the link part's X-Detach-Content-Type and
 * X-Detach-Content-Disposition so a restore can give them back. The
 * longer header line, "X-Detach-Content-Disposition: " (30) and the
 * value, stays within RFC 5322 2.1.1's 998 characters. A part whose
 * value is longer is not detached: a restore could not rebuild it. */
#define MIME_KEEP_FIELD_MAX	960

/* A notice_file template: the whole link part is meant to stay under
 * 1024 bytes, so a longer template can never be within the budget.
 * Its placeholders are bounded so that its expansion is: each may be a
 * link of up to a header line. */
#define MIME_NOTICE_MAX		1024
#define MIME_NOTICE_VARS_MAX	8
#define MIME_NOTICE_TEXT_MAX	(MIME_NOTICE_MAX + MIME_NOTICE_VARS_MAX * 1000)

/* A name longer than this many characters is shortened in the notice
 * text (never in the link or the headers) to its start, an ellipsis and
 * an extension of up to MIME_NOTICE_EXT_MAX characters: a reader sees
 * what the file is, the budget of the link part holds. */
#define MIME_NOTICE_NAME_MAX	60
#define MIME_NOTICE_EXT_MAX	10

/* Attachments detached from one message; further ones pass through.
 * Each holds one spool descriptor until the message is done. */
#define DETACH_OBJECTS_MAX	32

/* The link part, headers and body. The budget of a real one is 1024
 * bytes for a name of up to 40 characters (about 1.2 KB at 100, the
 * name being in the link twice, in both kept fields and in the
 * notice). The buffer has room for the worst case: headers with a
 * link and two kept fields of a header line each, and a notice of
 * MIME_NOTICE_TEXT_MAX bytes all in quoted-printable (3 bytes a byte,
 * a soft break every 75). */
#define MIME_LINKPART_MAX	(4 * 1000 + 3 * MIME_NOTICE_TEXT_MAX * 76 / 75)

/* Object key: 32 hex digits, "/", the name percent-encoded. */
#define STORE_KEY_MAX		(32 + 1 + 3 * MIME_NAME_MAX)

/* A dir store's spool starts its writeback every this many bytes, so
 * the fsync before the link goes out waits for the tail only. */
#define STORE_WRITEBACK_CHUNK	(1 << 20)

/* Times a dir store makes a key directory again when a sweep removed
 * it, empty, between the mkdir and the rename into it; each further
 * time needs another sweep to find it empty in that instant. */
#define STORE_MKDIR_TRIES	3

/* Random hex digits in the names a dir store and a sweep make for
 * themselves (".tmp.*", ".sweep.*"): hosts sharing a store over NFS
 * may run processes with the same pid. 64 bits: no two meet. */
#define STORE_NONCE_LEN		16

/* detach -x deletes an object this long after expire has passed since
 * its time: the notice may give the date alone, read in any time zone,
 * and the link is written a little after the object's time is set. */
#define SWEEP_GRACE_S		86400

/* detach -x deletes a dir store's temporary file ("<root>/.tmp.*") this
 * long after it was last written: one lives from an object's write to
 * its rename, seconds, unless its writer died in between. */
#define SWEEP_TMP_S		86400

/* A configuration line; longer ones are an error. */
#define CFG_LINE_MAX		1024

/* Listening addresses. */
#define CFG_LISTEN_MAX		8

/* A `user` name: useradd's limit of 32 characters. */
#define CFG_USER_MAX		32

/* unix:/path: the path and its NUL must fit sockaddr_un's sun_path,
 * 108 bytes on Linux (unix(7)); a longer one cannot be bound. */
#define CFG_UNIX_PATH_MAX	107

/* Size of the spool copy buffer; I/O granularity, not a message bound. */
#define SPOOL_IO_MAX		65536

/* ------------------------------------------------------------------ */
/* mime.c                                                              */
/* ------------------------------------------------------------------ */

#define MIME_ENC_7BIT		0	/* also 8bit, binary: taken as is */
#define MIME_ENC_BASE64		1
#define MIME_ENC_QP		2
#define MIME_ENC_OTHER		3	/* x-uuencode and such: never detached */

/* Error flags returned by mime_feed() and mime_finish(); see mime_strerror. */
#define MIME_ERR_NESTING	(1 << 0)	/* past MIME_DEPTH_MAX */
#define MIME_ERR_BOUNDARY_LEN	(1 << 1)	/* boundary over MIME_BOUNDARY_MAX */
#define MIME_ERR_NO_BOUNDARY	(1 << 2)	/* multipart without boundary */
#define MIME_ERR_HEADER_LEN	(1 << 3)	/* header over MIME_HEADER_MAX */
#define MIME_ERR_TRUNCATED	(1 << 4)	/* a multipart never closed */
#define MIME_ERR_ENCODING	(1 << 5)	/* dirty or truncated base64/QP */
#define MIME_ERR_HEADER_SYNTAX	(1 << 6)	/* a line in a header that is not one */
#define MIME_ERR_AMBIGUOUS	(1 << 8)	/* boundary reused by an enclosed
						 * multipart: readers disagree on
						 * the structure, touch nothing */

/* A link part's URL: one header line (RFC 5322 2.1.1), as written. */
#define MIME_LINK_URL_MAX	998

/* X-Detach-* fields of a link part (tell the scanner with mime_links),
 * unfolded (RFC 5322 2.2.3) and trimmed. The kept Content-Type and
 * Content-Disposition are bounded as mime_link_part() writes them,
 * MIME_KEEP_FIELD_MAX. bad names the first field that could not be
 * read. */
#define MIME_LINK_F_URL		(1 << 0)
#define MIME_LINK_F_SHA256	(1 << 1)
#define MIME_LINK_F_SIZE	(1 << 2)
#define MIME_LINK_F_TYPE	(1 << 3)	/* X-Detach-Content-Type */
#define MIME_LINK_F_DISP	(1 << 4)	/* X-Detach-Content-Disp... */
#define MIME_LINK_F_CTSIZE	(1 << 5)	/* size= of its Content-Type */

struct mime_link {
	int	fields;			/* MIME_LINK_F_* seen */
	const char *bad;		/* why a field is unusable, or 0 */
	char	url[MIME_LINK_URL_MAX + 1];
	char	sha256[65];		/* lowercase hex */
	uint64_t size;			/* X-Detach-Size */
	uint64_t ctsize;		/* size= parameter */
	char	type[MIME_KEEP_FIELD_MAX + 1];
	char	disposition[MIME_KEEP_FIELD_MAX + 1];
};

/* What the scanner tells about a candidate leaf part. */
struct mime_part {
	uint64_t start;			/* offset of its first header byte */
	uint64_t body;			/* offset of its first body byte */
	uint64_t end;			/* offset just past its body: the
					 * delimiter's leading EOL excluded */
	uint64_t decoded;		/* decoded bytes passed on */
	char	type[MIME_TYPE_MAX];	/* "type/subtype", lowercase */
	char	name[MIME_NAME_MAX + 1];/* sanitized UTF-8 name, or "" */
	int	encoding;		/* MIME_ENC_* */
	int	crlf;			/* its lines end in CRLF */
	int	attachment;		/* Content-Disposition: attachment */
	/* the original field values, unfolded, "" when absent */
	char	ctype[MIME_KEEP_FIELD_MAX + 1];
	char	cdisp[MIME_KEEP_FIELD_MAX + 1];
	const struct mime_link *link;	/* a link part's fields (mime_links),
					 * or 0 for a candidate attachment */
};

/* Callbacks; the part lives only during the call. */
typedef int (*MIME_BEGIN_FN)(void *ctx, const struct mime_part *);
typedef int (*MIME_DATA_FN)(void *ctx, const unsigned char *, size_t);
typedef void (*MIME_END_FN)(void *ctx, const struct mime_part *, int ok);

struct mime_state;

extern size_t mime_state_size(void);
extern void mime_init(struct mime_state *, MIME_BEGIN_FN, MIME_DATA_FN,
		    MIME_END_FN, void *);
extern int mime_feed(struct mime_state *, const void *, size_t);
extern int mime_finish(struct mime_state *);
extern void mime_links(struct mime_state *, struct mime_link *);
extern const char *mime_strerror(int);
/* Languages of the built-in notice (notice_lang). */
#define MIME_LANG_EN		0
#define MIME_LANG_FR		1

/* What the notice of a link part says, besides the part. */
struct mime_notice {
	int	lang;			/* MIME_LANG_*: text, numbers, dates */
	const char *tmpl;		/* a notice_file template, or 0 */
	size_t	tmpl_len;
	int64_t	expires;		/* seconds since the epoch; 0: never */
};

extern size_t mime_link_part(char *, size_t, const struct mime_part *,
		    const char *, size_t, const char *, int,
		    const struct mime_notice *);
extern int mime_notice_check(const char *, size_t, int *, char *, size_t);
extern size_t mime_date(char *, size_t, int64_t);
extern size_t mime_url_encode(char *, size_t, const char *, size_t);
extern void mime_human_size(char *, size_t, uint64_t);

/* Decoders, exposed for the unit tests. */
struct mime_b64 {
	uint32_t acc;		/* bits gathered */
	int	nbits;		/* 6 per sextet, 0..18 */
	int	pad;		/* '=' seen */
	int	err;
};
/* White space held by the quoted-printable decoder until it knows
 * whether the line ends (RFC 2045 6.7 (3): trailing white space is not
 * content). Bounded by the RFC 5322 2.1.1 line length. */
#define MIME_QP_WSP_MAX		998

struct mime_qp {
	int	state;		/* MIME_QP_* in mime.c */
	unsigned char hex;	/* first hex digit after '=' */
	size_t	wsp;		/* pending white space */
	unsigned char wbuf[MIME_QP_WSP_MAX];	/* its bytes */
	int	err;
};
extern size_t mime_b64_decode(struct mime_b64 *, const unsigned char *,
		    size_t, unsigned char *);
extern int mime_b64_final(struct mime_b64 *);

/* b64.c: whole blocks of clean base64, SIMD where the CPU has it. */
#define B64_BEST		(-1)	/* the best this CPU runs */
#define B64_SCALAR		0	/* no kernel: the scalar loop alone */
#define B64_SSSE3		1
#define B64_AVX2		2
#define B64_NEON		3
extern size_t b64_blocks(const unsigned char *, size_t, unsigned char *,
		    size_t *);
extern int b64_use(int);
extern const char *b64_kernel_name(void);

/* hash.c: SHA-256 of decoded attachments, and the hash behind (a helper
 * thread hashing a spool file as it is written, for detach -p). */
struct hash_sha {
	br_sha256_context br;		/* used without the SHA extensions */
	uint32_t h[8];
	unsigned char block[64];
	size_t	fill;
	uint64_t total;
};
extern void hash_init(struct hash_sha *);
extern void hash_update(struct hash_sha *, const void *, size_t);
extern void hash_out(struct hash_sha *, unsigned char [32]);

/* The helper reads the file back this much at a time: in the cache it
 * then hashes from. Its stack needs little: no call of its is deep. */
#define HASH_BEHIND_CHUNK	(128 << 10)
#define HASH_BEHIND_STACK	(64 << 10)
extern int hash_behind_start(int);
extern void hash_behind_grow(uint64_t);
extern int hash_behind_end(unsigned char [32]);
extern void hash_behind_cancel(void);

/* ------------------------------------------------------------------ */
/* detach.c: configuration and logs                                    */
/* ------------------------------------------------------------------ */

#define CFG_FAIL_KEEP		0	/* on_store_failure = keep */
#define CFG_FAIL_TEMPFAIL	1	/* on_store_failure = tempfail */

#define CFG_STORE_DIR		0	/* store = dir:/path */
#define CFG_STORE_HTTP		1	/* store = http://... or https://... */
#define CFG_STORE_S3		2	/* store = s3://bucket[/prefix] */

struct policy;

/* The settings in effect; strings are NUL-terminated copies. */
struct cfg {
	/* pipe mode and the detacher */
	char	store[CFG_LINE_MAX];
	int	store_kind;			/* CFG_STORE_* */
	char	link_base[CFG_LINE_MAX];
	uint64_t min_size;
	unsigned char secret[32];
	int	secret_set;
	int	on_store_failure;		/* CFG_FAIL_* */
	char	spool_dir[CFG_LINE_MAX];
	/* the proxy */
	char	listen[CFG_LISTEN_MAX][CFG_LINE_MAX / 4];
	int	nlisten;
	char	forward[CFG_LINE_MAX / 4];
	int	max_sessions;
	int	timeout_ms;			/* per command/reply step */
	char	hostname[256];
	int	log_syslog;
	/* the stores */
	char	store_auth[CFG_LINE_MAX];	/* none | basic:U:P | header:N:V */
	char	s3_endpoint[CFG_LINE_MAX];
	char	s3_region[64];
	char	s3_access_key[256];
	char	s3_secret_key[256];
	char	s3_credentials_file[CFG_LINE_MAX];
	int	s3_path_style;
	char	tls_ca_file[CFG_LINE_MAX];
	int	upload_timeout_ms;
	/* links and objects */
	uint64_t expire_s;			/* 0: never */
	/* privileges */
	char	user[CFG_USER_MAX + 1];		/* the proxy's, once root */
	int	user_line;			/* set on; 0: the default */
	/* unix: listeners' socket files */
	int	listen_mode;			/* permission bits */
	char	listen_group[64];		/* empty: our own group */
	gid_t	listen_gid;			/* (gid_t)-1: ours */
	/* the proxy's Prometheus endpoint */
	char	metrics_listen[CFG_LINE_MAX / 4];	/* "": none */
	/* policy: the values as written, for -n; the lists read from
	 * them live in *policy (0 when none is set). cfg_load() hands
	 * its caller one reference, released with cfg_free(); a copy
	 * of the struct that outlives it takes its own (policy_ref). */
	char	detach_senders[CFG_LINE_MAX];
	char	skip_senders[CFG_LINE_MAX];
	char	detach_recipients[CFG_LINE_MAX];
	char	skip_recipients[CFG_LINE_MAX];
	char	skip_clients[CFG_LINE_MAX];
	struct policy *policy;
	/* the notice */
	int	notice_lang;			/* MIME_LANG_* */
	char	notice_file[CFG_LINE_MAX];	/* "" for the built-in text */
	char	notice[MIME_NOTICE_MAX + 1];	/* its text, NUL-ended */
	size_t	notice_len;
};

/* Push parser for the configuration file; errors name FILE:LINE. */
struct cfg_parse {
	struct cfg *cfg;
	const char *file;
	int	lineno;			/* physical lines seen */
	char	buf[CFG_LINE_MAX + 1];	/* the physical line being read */
	size_t	blen;
	int	boverlong;
	char	line[CFG_LINE_MAX + 1];	/* the logical line, continuations joined */
	size_t	len;
	int	have;			/* line holds a logical line */
	int	start_line;		/* where it started */
	int	overlong;
	int	errors;
	char	err[CFG_LINE_MAX + 128];	/* first error */
};

extern void cfg_defaults(struct cfg *);
extern void cfg_parse_init(struct cfg_parse *, struct cfg *, const char *);
extern int cfg_parse_feed(struct cfg_parse *, const void *, size_t);
extern int cfg_parse_finish(struct cfg_parse *);
extern int cfg_load(struct cfg *, const char *, int, char *, size_t);
extern void cfg_free(struct cfg *);
extern void cfg_print(const struct cfg *, int);

/* Logs: one line per event, to stderr or syslog (mail facility). */
extern void log_info(const char *, ...);
extern void log_warn(const char *, ...);
extern void log_error(const char *, ...);
extern void log_fatal(int, const char *, ...);
extern void log_panic(const char *, ...);

/* Monotonic clock in milliseconds, for deadlines. */
extern int64_t clock_ms(void);

/* ------------------------------------------------------------------ */
/* priv.c: running as an unprivileged user                             */
/* ------------------------------------------------------------------ */

/* The account `user` names, resolved while still root. */
struct priv_user {
	char	name[CFG_USER_MAX + 1];
	uid_t	uid;
	gid_t	gid;
};

extern int priv_user(const struct cfg *, const char *, struct priv_user *,
		    char *, size_t);
extern int priv_drop(const struct priv_user *, char *, size_t);
extern int priv_dirs(const struct cfg *, const struct priv_user *, char *,
		    size_t);

/* ------------------------------------------------------------------ */
/* policy.c: whose mail is detached                                    */
/* ------------------------------------------------------------------ */

/* Entries in one list: a large site's list of users fits; the bound
 * keeps a runaway file from taking the memory of the host (about
 * POLICY_ENTRIES_MAX * (8 + entry) bytes a list). */
#define POLICY_ENTRIES_MAX	100000

/* One entry: RFC 5321 4.5.3.1.3, a path is at most 256 octets. */
#define POLICY_ENTRY_MAX	256

/* A file: list is read whole into memory: its size is bounded, comments
 * and all (a full list of long addresses is under 8 MiB). */
#define POLICY_FILE_MAX		(16 << 20)

/* The lists, in cfg_keys[] order; bits of policy_addr() are 1 << each. */
#define POLICY_DETACH_SENDERS	0
#define POLICY_SKIP_SENDERS	1
#define POLICY_DETACH_RECIPIENTS 2
#define POLICY_SKIP_RECIPIENTS	3
#define POLICY_SKIP_CLIENTS	4
#define POLICY_NLISTS		5

/* The bits of an address that cannot be parsed: in doubt, it counts as
 * listed in every skip list and in no detach list, so the message is
 * left alone whenever a list would look at it. */
#define POLICY_DOUBT	((1 << POLICY_SKIP_SENDERS) \
			    | (1 << POLICY_SKIP_RECIPIENTS))

struct policy;

/* What is known of one transaction's envelope, gathered incrementally:
 * no list of recipients is kept. */
struct policy_env {
	int	client;			/* the client is in skip_clients */
	int	sender;			/* the sender is known */
	int	sender_bits;		/* the lists it is in */
	int	nrcpt;			/* recipients known: 0, 1, 2 (more) */
	int	rcpt_all;		/* lists every recipient is in */
	int	rcpt_any;		/* lists some recipient is in */
};

extern int policy_set(struct policy **, int, const char *, char *, size_t);
extern int policy_list_id(const char *);
extern const char *policy_list_name(int);
extern struct policy *policy_ref(struct policy *);
extern void policy_unref(struct policy *);
extern int policy_has(const struct policy *, int);
extern int policy_addr(const struct policy *, const char *, size_t);
extern int policy_client(const struct policy *, const char *);
extern void policy_env_init(struct policy_env *);
extern void policy_env_sender(struct policy_env *, int);
extern void policy_env_rcpt(struct policy_env *, int);
extern const char *policy_verdict(const struct policy *,
		    const struct policy_env *);

/* ------------------------------------------------------------------ */
/* store.c: one message in flight                                      */
/* ------------------------------------------------------------------ */

/*
 * A message job takes the raw message (after SMTP dot-unstuffing), spools
 * it to an unlinked file under spool_dir while the MIME scanner runs over
 * it, spools each candidate attachment's decoded bytes with one SHA-256
 * pass, then stores the qualifying ones and hands out the rewritten
 * message: the raw spool with each stored part's range replaced by its
 * link part. Storing is driven by the caller's poll() loop.
 */
#define MSG_FEEDING	0	/* taking input */
#define MSG_STORING	1	/* uploads under way */
#define MSG_READY	2	/* msg_read() gives the rewritten message */
#define MSG_TEMPFAIL	3	/* store failed under on_store_failure=tempfail,
				 * or the spool failed: answer 451 */

struct msg;
struct pollfd;

/* store_init - (re)build the store for a configuration: resolve names,
 * load the trust anchors. Messages already under way keep the old one. */
extern int store_init(const struct cfg *, char *, size_t);
extern int store_write_all(int, const void *, size_t);
extern void store_shutdown(void);

extern struct msg *msg_new(const struct cfg *, char *, size_t);
extern void msg_passthru(struct msg *);
extern void msg_hash_behind(struct msg *);
extern void msg_name(struct msg *, const char *);
extern int msg_source(struct msg *, int);
extern int msg_feed(struct msg *, const void *, size_t);
extern int msg_end(struct msg *, int64_t);
extern int msg_state(const struct msg *);
extern int msg_poll(struct msg *, struct pollfd *, int, int64_t *);
extern void msg_event(struct msg *, const struct pollfd *, int, int64_t);
extern ssize_t msg_read(struct msg *, void *, size_t);
extern void msg_stats(const struct msg *, int *, uint64_t *, uint64_t *);
extern const char *msg_why(const struct msg *);
extern int msg_store_failed(const struct msg *);
extern void msg_free(struct msg *);

/*
 * Buckets of detach_store_seconds, upper bounds in milliseconds: the
 * Prometheus default buckets (5 ms to 10 s) cover a HEAD on a LAN to a
 * large PUT; 30 s and 60 s reach the default upload_timeout. Past the
 * last is +Inf only.
 */
#define STORE_SECONDS_BUCKETS	13
#define STORE_SECONDS_BOUNDS	{5, 10, 25, 50, 100, 250, 500, 1000, \
				    2500, 5000, 10000, 30000, 60000}

/* What the message jobs did, since the start (see store_stats()). */
struct store_stats {
	uint64_t dedup_hits;		/* an object already in the store */
	uint64_t stored[STORE_SECONDS_BUCKETS + 1];	/* by bucket, +Inf last */
	uint64_t stored_ms;		/* sum of the times observed */
};

extern const struct store_stats *store_stats(void);

/* ------------------------------------------------------------------ */
/* sweep.c: detach -x, expired objects out of a dir store              */
/* ------------------------------------------------------------------ */

struct sweep_stats {
	uint64_t deleted;		/* objects deleted */
	uint64_t bytes;			/* their bytes */
	uint64_t kept;			/* not yet due, or renewed */
	uint64_t temps;			/* stale temporary files deleted */
	int	errors;			/* failures, each logged */
};

extern int sweep_dir(const char *, uint64_t, int64_t, struct sweep_stats *);

/* A test's look into the sweep between its steps: point 0 after an
 * object was found due, 1 after it was moved aside. */
extern void (*sweep_test_hook)(int, int, const char *);

/* A test's look into the dir store between its steps, with the path:
 * a renewal after its open and after its time set, a key directory
 * just made. */
#define STORE_HOOK_RENEW	0
#define STORE_HOOK_RENEWED	1
#define STORE_HOOK_MKDIR	2
extern void (*store_test_hook)(int, const char *);
extern int store_nonce(char [STORE_NONCE_LEN + 1]);

/* The way back: an object by its key. */
#define STORE_GET_OK		0
#define STORE_GET_MISSING	1	/* no such object (404, 410, no file) */
#define STORE_GET_BADKEY	2	/* not a key detach makes */
#define STORE_GET_FAIL		3	/* the store failed; try later */

extern int store_get(const char *, int (*)(void *, const unsigned char *,
		    size_t), void *, char *, size_t);
extern int store_key_name(const char *, char *, size_t);
extern int store_spool_open(const char *);

/* ------------------------------------------------------------------ */
/* restore.c: the way back from link parts to attachments (detach -R)  */
/* ------------------------------------------------------------------ */

/* RFC 2045 6.8: base64 lines are at most 76 characters; the restored
 * part's are exactly that, but its last. */
#define RESTORE_B64_LINE	76

/* Base64 characters held before a write to the output spool; I/O
 * granularity, not a message bound. */
#define RESTORE_OUT_MAX		65536

extern int restore_run(const struct cfg *);

/* ------------------------------------------------------------------ */
/* proxy.c: the before-queue proxy, its listeners and poll() loop      */
/* ------------------------------------------------------------------ */

/* Runs in the foreground until SIGTERM; returns an exit code. The path
 * is reread on SIGHUP. */
extern int proxy_run(const char *, struct cfg *);

/* One listening socket, "host:port", "[v6]:port" or "unix:/path", for
 * any listener in the loop. A unix: socket file gets mode and gid
 * ((gid_t)-1: ours); a stale one is replaced, a live one is an error.
 * Returns the descriptor (non-blocking), or -1 with why.
 * proxy_unlisten() closes it and removes our socket file. */
extern int proxy_listen(const char *, int, gid_t, char *, size_t);
extern void proxy_unlisten(int);

/* ------------------------------------------------------------------ */
/* smtp.c (declarations owned by smtp.c)                               */
/* ------------------------------------------------------------------ */
/* @smtp-begin */
/* RFC 5321 4.5.3.1.4: a command line, verb to CRLF, is 512 octets. */
#define SMTP_CMD_MAX		512

/* MAIL and RCPT carry extension parameters (SIZE, RFC 1870; DSN's RET,
 * ENVID, NOTIFY and ORCPT, RFC 3461; AUTH=, RFC 4954) that raise the
 * limit; Postfix's front smtpd forwards them unmodified up to its
 * line_length_limit of 2048. */
#define SMTP_ENVCMD_MAX		2048

/* RFC 5321 4.5.3.1.5: a reply line is 512 octets with its CRLF; longer
 * lines from the downstream server are cut there. */
#define SMTP_REPLY_LINE_MAX	512

/* One multi-line reply as kept and relayed. Postfix's EHLO reply is
 * about 300 bytes; lines past the bound are dropped. */
#define SMTP_REPLY_MAX		2048

/* RFC 3461 4 and XFORWARD_README: an xtext attribute value is at most
 * 255 characters; PROTO at most 64. */
#define SMTP_XFWD_VALUE_MAX	255
#define SMTP_XFWD_PROTO_MAX	64

/* Per-session buffers: client input, downstream output, the copy
 * buffer for the rewritten message. I/O granularity, not message
 * bounds. 64 KB takes a 10 MiB attachment through 2.3 times faster than
 * 8 KB did (bench/postfix.sh: 6.1 msg/s against 2.6); an idle session
 * never touches the pages, so 1000 of them stay at 26 MiB RSS. */
#define SMTP_CIN_MAX		65536
#define SMTP_DOUT_MAX		65536
#define SMTP_DIN_MAX		1024
/* Replies for the client: a command is taken only while at most one
 * reply waits (the pipelining gate), then DATA's 354 and the reply to
 * the dot may follow unread, so three whole replies always fit and
 * smtp_relay()'s overflow check is a true invariant. */
#define SMTP_COUT_MAX		(3 * SMTP_REPLY_MAX)
#define SMTP_COPY_MAX		(SMTP_DOUT_MAX / 2)

/* Command ids; SMTP_CMD_BAD carries its reply text. */
#define SMTP_CMD_BAD		0
#define SMTP_CMD_EHLO		1
#define SMTP_CMD_HELO		2
#define SMTP_CMD_XFORWARD	3
#define SMTP_CMD_MAIL		4
#define SMTP_CMD_RCPT		5
#define SMTP_CMD_DATA		6
#define SMTP_CMD_RSET		7
#define SMTP_CMD_NOOP		8
#define SMTP_CMD_QUIT		9

/* A command line being gathered; raw length counts its CRLF. */
struct smtp_line {
	char	buf[SMTP_ENVCMD_MAX + 1];	/* without the EOL, NUL ended */
	size_t	len;
	size_t	rawlen;				/* capped at SMTP_ENVCMD_MAX + 1 */
	int	done;
};

/* Reply flags, see smtp_reply_strerror(). */
#define SMTP_REPLY_ERR_SYNTAX	(1 << 0)	/* a line without a code */
#define SMTP_REPLY_ERR_CODE	(1 << 1)	/* lines disagree on code */
#define SMTP_REPLY_CUT_LINE	(1 << 2)	/* a line cut at the limit */
#define SMTP_REPLY_CUT		(1 << 3)	/* lines dropped at the limit */
#define SMTP_REPLY_CENSORED	(1 << 4)	/* unprintable bytes replaced */

/* A downstream reply: lines "ddd-text" kept, censored, CRLF ended. */
struct smtp_reply {
	char	text[SMTP_REPLY_MAX];
	size_t	len;
	size_t	last;				/* offset of the last kept line */
	char	line[SMTP_REPLY_LINE_MAX];
	size_t	llen;
	int	code;
	int	nlines;
	int	flags;
	int	done;
};

/* Dot codecs: RFC 5321 4.5.2 transparency. */
struct smtp_unstuff {
	int	state;
};
struct smtp_stuff {
	uint64_t n;		/* bytes taken */
	int	bol;		/* next byte starts a line */
	int	cr;		/* last byte was CR */
	int	crlf;		/* last two bytes were CRLF */
};

/* XFORWARD attributes, bits of the offered and sent sets. */
#define SMTP_XFWD_NAME		(1 << 0)
#define SMTP_XFWD_ADDR		(1 << 1)
#define SMTP_XFWD_PORT		(1 << 2)
#define SMTP_XFWD_PROTO		(1 << 3)
#define SMTP_XFWD_HELO		(1 << 4)
#define SMTP_XFWD_IDENT		(1 << 5)
#define SMTP_XFWD_SOURCE	(1 << 6)

/* What the session waits on; see smtp_state_name(). */
enum smtp_state {
	SMTP_WAIT_GREETING,	/* downstream connect and its 220 */
	SMTP_WAIT_CMD,		/* a client command */
	SMTP_WAIT_REPLY,	/* downstream reply to a relayed command */
	SMTP_WAIT_CONTENT,	/* client message content up to the dot */
	SMTP_WAIT_STORE,	/* the message job storing objects */
	SMTP_WAIT_SEND,		/* downstream room for the rewritten message */
	SMTP_WAIT_DOT_REPLY,	/* downstream reply to the final dot */
	SMTP_WAIT_FLUSH,	/* the last reply to leave; then close */
	SMTP_WAIT_NOTHING	/* closed */
};

/* What the loop should poll for, from smtp_want(). */
#define SMTP_WANT_CREAD		(1 << 0)
#define SMTP_WANT_CWRITE	(1 << 1)
#define SMTP_WANT_DREAD		(1 << 2)
#define SMTP_WANT_DWRITE	(1 << 3)
#define SMTP_WANT_DCLOSE	(1 << 4)	/* drop downstream now */
#define SMTP_WANT_CLOSE		(1 << 5)	/* session is over */
#define SMTP_WANT_STORE		(1 << 6)	/* poll the message job */

struct smtp_sess {
	enum smtp_state state;
	const struct cfg *cfg;
	char	id[16];			/* session name in logs */
	char	peer[64];		/* client address, for logs */
	int64_t	deadline;		/* of the current wait */
	int64_t	dot_deadline;		/* from the client's dot to our reply */
	int	down;			/* 1 connected, 0 gone */
	int	pending;		/* SMTP_CMD_* awaiting its reply */
	int	xfwd_offer;		/* attributes downstream takes */
	int	ceof;			/* client sent EOF */
	int	closing;		/* 421 at the next command */
	const char *fail;		/* why the message in DATA fails */
	struct msg *msg;
	/* the transaction, for the log line */
	char	from[256];
	char	ident[64];
	int	txn;			/* MAIL accepted, no dot or RSET yet */
	int	nrcpt;
	uint64_t size;
	/* policy: what the envelope relayed so far says */
	struct policy_env pol;
	int	pol_peer;		/* the TCP peer is in skip_clients */
	int	pol_pending;		/* of the command awaiting its reply */
	const char *pol_why;		/* key that left the message alone */
	/* buffers */
	unsigned char cin[SMTP_CIN_MAX];
	size_t	cin_len;
	unsigned char cout[SMTP_COUT_MAX];
	size_t	cout_len;
	unsigned char din[SMTP_DIN_MAX];
	size_t	din_len;
	unsigned char dout[SMTP_DOUT_MAX];
	size_t	dout_len;
	unsigned char copy[SMTP_COPY_MAX];
	struct smtp_line line;
	struct smtp_reply reply;
	struct smtp_unstuff unstuff;
	struct smtp_stuff stuff;
};

extern void smtp_line_init(struct smtp_line *);
extern size_t smtp_line_feed(struct smtp_line *, const void *, size_t);
extern int smtp_cmd_parse(const struct smtp_line *, const char **,
		    const char **);
extern void smtp_reply_init(struct smtp_reply *);
extern size_t smtp_reply_feed(struct smtp_reply *, const void *, size_t);
extern const char *smtp_reply_strerror(int);
extern size_t smtp_ehlo_filter(const struct smtp_reply *, const char *,
		    char *, size_t, int *);
extern int smtp_xforward_check(const char *, int, char *, size_t);
extern int smtp_xforward_addr(const char *, char *, size_t);
extern int smtp_path(const char *, char *, size_t);
extern void smtp_unstuff_init(struct smtp_unstuff *);
extern size_t smtp_unstuff(struct smtp_unstuff *, const unsigned char *,
		    size_t, unsigned char *, size_t *, int *);
extern void smtp_stuff_init(struct smtp_stuff *);
extern size_t smtp_stuff(struct smtp_stuff *, const unsigned char *,
		    size_t, unsigned char *, size_t, size_t *);
extern size_t smtp_stuff_end(struct smtp_stuff *, unsigned char *, size_t);

extern void smtp_sess_init(struct smtp_sess *, const struct cfg *,
		    const char *, const char *, int64_t);
extern void smtp_sess_free(struct smtp_sess *);
extern const char *smtp_state_name(enum smtp_state);
extern int smtp_want(const struct smtp_sess *);
extern void smtp_run(struct smtp_sess *, int64_t);
extern void smtp_timeout(struct smtp_sess *, int64_t);
extern void smtp_client_gone(struct smtp_sess *, const char *);
extern void smtp_down_gone(struct smtp_sess *, const char *, int64_t);
extern void smtp_shutdown(struct smtp_sess *, int64_t);
extern unsigned char *smtp_cin_buf(struct smtp_sess *, size_t *);
extern void smtp_cin_ack(struct smtp_sess *, size_t, int64_t);
extern const unsigned char *smtp_cout_buf(struct smtp_sess *, size_t *);
extern void smtp_cout_ack(struct smtp_sess *, size_t);
extern unsigned char *smtp_din_buf(struct smtp_sess *, size_t *);
extern void smtp_din_ack(struct smtp_sess *, size_t);
extern const unsigned char *smtp_dout_buf(struct smtp_sess *, size_t *);
extern void smtp_dout_ack(struct smtp_sess *, size_t, int64_t);
/* Outcomes of a message, by the reply to its final dot. */
#define SMTP_RESULT_RELAYED	0	/* 2xx, attachments detached */
#define SMTP_RESULT_REJECTED	1	/* 5xx */
#define SMTP_RESULT_TEMPFAILED	2	/* 4xx, ours included */
#define SMTP_RESULT_UNCHANGED	3	/* 2xx, nothing detached */
#define SMTP_RESULTS		4

/* What the sessions did, since the start (see smtp_stats()). */
struct smtp_stats {
	uint64_t messages[SMTP_RESULTS];
	uint64_t detached;		/* attachments replaced by links */
	uint64_t received;		/* message bytes from clients */
	uint64_t relayed;		/* message bytes sent downstream */
	uint64_t saved;			/* bytes removed x recipients, of
					 * messages accepted downstream */
};

extern const struct smtp_stats *smtp_stats(void);
/* @smtp-end */

/* ------------------------------------------------------------------ */
/* http.c (declarations owned by http.c)                               */
/* ------------------------------------------------------------------ */
/* @http-begin */

/* A response's status line or one header field line. RFC 9112 sets no
 * bound; 8 KiB is what common servers accept for a request line and
 * keeps the parser's state small. Longer lines fail the response. */
#define HTTP_LINE_MAX		8192

/* Header fields (and trailer fields) in one response; more is an error.
 * Bounds the time a hostile store can keep us parsing headers. */
#define HTTP_FIELDS_MAX		100

/* Body bytes kept for the log line of a failed request (%.100s). */
#define HTTP_ERRBODY_MAX	100

/* Reason phrase kept for the log line. */
#define HTTP_REASON_MAX		64

/* A host name (RFC 1035: 253 characters in text form). */
#define HTTP_HOST_MAX		256

/* Our request head: request line with prefix and key, fields, SigV4
 * Authorization, Content-Disposition with a name encoded twice; an S3
 * copy's x-amz-copy-source repeats bucket, prefix and key. */
#define HTTP_REQ_MAX		(6 * CFG_LINE_MAX + 6 * MIME_NAME_MAX \
				    + 3 * STORE_KEY_MAX)

/* Spool bytes read per write for plain http; TLS uses the engine's
 * own record buffer (BR_SSL_BUFSIZE_BIDI). */
#define HTTP_IO_CHUNK		65536

/* Bytes one pump call reads before it returns to poll(): a store that
 * keeps the socket full must not hold the loop, nor push an upload past
 * its deadline (checked between calls). */
#define HTTP_PUMP_MAX		(256 * 1024)

/* Idle keep-alive connections kept per store; more are closed. */
#define HTTP_POOL_MAX		8

/* A pooled connection idle longer than this is closed, not reused:
 * servers close idle ones after 5 s (Node, s3rver) to 75 s (nginx),
 * and a request on a connection closing under it is wasted. */
#define HTTP_IDLE_MS		4000

/* Attempts per object (connect failures, broken connections, 5xx,
 * responses garbled before their status), each after a doubling pause
 * from HTTP_BACKOFF_MS, all inside upload_timeout. */
#define HTTP_TRY_MAX		5
#define HTTP_BACKOFF_MS		250

/* One connect() may take this long before the next address or try. */
#define HTTP_CONNECT_MS		10000

/* Addresses kept per store name. */
#define HTTP_ADDR_MAX		8

/* An end-entity certificate kept to match an IP address against its
 * iPAddress names: real ones are 1 to 3 KiB; one with thousands of
 * names may be refused. */
#define HTTP_CERT_MAX		16384

/* SigV4: headers signed, query parameters, path segments, and the
 * canonical request; ours sign three headers and no query. */
#define S3_HDRS_MAX		32
#define S3_QUERY_MAX		32
#define S3_SEGS_MAX		128
#define S3_CANON_MAX		(4 * HTTP_LINE_MAX)

/* Transfer outcome. */
#define HTTP_XFER_RUNNING	0
#define HTTP_XFER_DONE		1
#define HTTP_XFER_FAILED	2

struct http_conf {
	const char *store;		/* http(s)://host[:port]/prefix/, s3:// */
	const char *store_auth;		/* none | basic:U:P | header:N:V */
	const char *s3_endpoint;
	const char *s3_region;
	const char *s3_access_key;
	const char *s3_secret_key;
	int	s3_path_style;
	const char *tls_ca_file;
	int	upload_timeout_ms;
	/* links and objects */
	uint64_t expire_s;			/* 0: never */
};

struct http_object {
	int	fd;			/* spool file, read with pread from 0 */
	uint64_t size;
	unsigned char sha256[32];
	const char *key;		/* URL-safe object key */
	const char *type;		/* Content-Type */
	const char *name;		/* UTF-8 file name, or "" */
};

/* Takes a GET's body as it arrives: called with len 0 when a 2xx body
 * begins (again, after a retry: forget what came before), then with
 * its bytes. Returns 0, or -1 to stop the response. */
typedef int (*HTTP_BODY_FN)(void *, const unsigned char *, size_t);

struct http_store;
struct http_xfer;

extern struct http_store *http_store_new(const struct http_conf *, char *,
		    size_t);
extern void http_store_free(struct http_store *);
extern int http_url_check(const char *, char *, size_t);
extern struct http_xfer *http_xfer_new(struct http_store *,
		    const struct http_object *, int64_t);
extern int http_xfer_poll(struct http_xfer *, struct pollfd *, int,
		    int64_t *);
extern void http_xfer_event(struct http_xfer *, const struct pollfd *, int,
		    int64_t);
extern int http_xfer_state(const struct http_xfer *);
extern const char *http_xfer_why(const struct http_xfer *);
extern void http_xfer_free(struct http_xfer *);
extern int http_upload_wait(struct http_store *, const struct http_object *,
		    char *, size_t);
extern struct http_xfer *http_get_new(struct http_store *, const char *,
		    HTTP_BODY_FN, void *, int64_t);
extern int http_xfer_status(const struct http_xfer *);
extern int http_get_wait(struct http_store *, const char *, HTTP_BODY_FN,
		    void *, int *, char *, size_t);

/* The response push parser (pure; exposed for tests and the fuzzer). */
#define HTTP_RESP_STATUS	0	/* waits for the status line */
#define HTTP_RESP_FIELD		1	/* a header field line */
#define HTTP_RESP_BODY		2	/* Content-Length body bytes */
#define HTTP_RESP_BODY_EOF	3	/* body delimited by the close */
#define HTTP_RESP_CHUNK_SIZE	4	/* chunk-size [chunk-ext] line */
#define HTTP_RESP_CHUNK_DATA	5	/* chunk-data bytes */
#define HTTP_RESP_CHUNK_END	6	/* the CRLF after chunk-data */
#define HTTP_RESP_TRAILER	7	/* a trailer field line */
#define HTTP_RESP_DONE		8	/* one whole final response */
#define HTTP_RESP_ERROR		9	/* see err */

#define HTTP_ERR_STATUS		(1 << 0)	/* bad status line */
#define HTTP_ERR_FIELD		(1 << 1)	/* bad header field line */
#define HTTP_ERR_LENGTH		(1 << 2)	/* bad or conflicting length */
#define HTTP_ERR_CHUNK		(1 << 3)	/* bad chunk framing */
#define HTTP_ERR_LINE		(1 << 4)	/* line over HTTP_LINE_MAX */
#define HTTP_ERR_FIELDS		(1 << 5)	/* over HTTP_FIELDS_MAX */
#define HTTP_ERR_EOF		(1 << 6)	/* closed before the end */
#define HTTP_ERR_SINK		(1 << 7)	/* the body's taker said stop */

struct http_resp {
	int	state;			/* HTTP_RESP_* */
	int	err;			/* HTTP_ERR_* */
	int	head;			/* answers a HEAD: never a body */
	int	status;			/* final status code */
	int	interim;		/* 1xx responses skipped */
	int	minor;			/* HTTP/1.minor */
	int	close;			/* connection ends after this */
	int	chunked;
	int	has_length;
	uint64_t length;		/* Content-Length */
	uint64_t left;			/* bytes of body or chunk to come */
	uint64_t body;			/* body bytes seen (decoded) */
	int	nfields;
	int	field;			/* kind of the last field, obs-fold */
	char	reason[HTTP_REASON_MAX + 1];
	char	errbody[HTTP_ERRBODY_MAX + 1];
	size_t	errlen;
	HTTP_BODY_FN sink;		/* a 2xx body's taker, or 0 */
	void	*sink_ctx;
	size_t	len;			/* bytes in line */
	char	line[HTTP_LINE_MAX];
};

extern void http_resp_init(struct http_resp *, int);
extern size_t http_resp_feed(struct http_resp *, const void *, size_t);
extern int http_resp_eof(struct http_resp *);
extern void http_resp_sink(struct http_resp *, HTTP_BODY_FN, void *);
extern const char *http_resp_strerror(int);

/* Request building (pure). */
struct http_req {
	const char *method;		/* "HEAD" or "PUT" */
	const char *host;		/* Host field value */
	const char *path;		/* absolute path, encoded */
	uint64_t length;		/* PUT body size */
	const char *type;		/* PUT Content-Type */
	const char *name;		/* PUT file name, or "" */
	const char *fields;		/* more field lines, CRLF-ended, or 0 */
};

extern size_t http_req_build(char *, size_t, const struct http_req *);
extern int http_san_ip_match(const unsigned char *, size_t,
		    const unsigned char *, size_t);
extern size_t http_disposition(char *, size_t, const char *);

/* AWS Signature Version 4 (pure). */
struct s3_hdr {
	const char *name;
	size_t	namelen;
	const char *value;
	size_t	valuelen;
};

struct s3_sign {
	const char *method;
	const char *path;		/* as sent, before canonical encoding */
	size_t	pathlen;
	const char *query;		/* without '?', or 0 */
	size_t	querylen;
	const struct s3_hdr *hdr;	/* every header to sign */
	int	nhdr;
	const char *payload;		/* hex SHA-256 of the body */
	const char *date;		/* YYYYMMDDTHHMMSSZ */
	const char *region;
	const char *service;
	const char *access_key;
	const char *secret_key;
	int	normalize;		/* remove dot segments and "//" (not S3) */
};

extern size_t s3_canonical_request(const struct s3_sign *, char *, size_t);
extern size_t s3_string_to_sign(const struct s3_sign *, const char *,
		    size_t, char *, size_t);
extern void s3_signing_key(const char *, const char *, const char *,
		    const char *, unsigned char *);
extern size_t s3_authorization(const struct s3_sign *, char *, size_t);
extern void s3_hex(char *, const unsigned char *, size_t);

/* Store requests by method and answer, since the start (see
 * http_stats()): HEAD or PUT, then 2xx, 3xx, 4xx, 5xx, or none (the
 * connection failed or the time ran out before a whole answer). */
#define HTTP_STAT_HEAD		0
#define HTTP_STAT_PUT		1
#define HTTP_STAT_METHODS	2
#define HTTP_STAT_NONE		4
#define HTTP_STAT_CODES		5

struct http_stats {
	uint64_t requests[HTTP_STAT_METHODS][HTTP_STAT_CODES];
	uint64_t retries;		/* tries after the first */
};

extern const struct http_stats *http_stats(void);
extern int http_xfer_found(const struct http_xfer *);
/* @http-end */

/* ------------------------------------------------------------------ */
/* metrics.c: the proxy's Prometheus endpoint                          */
/* ------------------------------------------------------------------ */

/* Metrics connections at once; more are accepted and closed at once.
 * A scraper needs one; 16 leave room for a few scrapers and curl. */
#define METRICS_CONN_MAX	16

/* A request head, request line to the empty line. 8 KiB is what common
 * servers take for a request line; a scrape's head is about 200 bytes.
 * Over it, the connection is closed without an answer. */
#define METRICS_HEAD_MAX	8192

/* From accept to the client's close after our answer: a slower
 * request, or a client that does not read, is closed. Prometheus's
 * default scrape_timeout is 10 s. */
#define METRICS_TIMEOUT_MS	10000

/* The answer, head and body, rendered at request time. The set of
 * series is fixed (metrics_render(): 40 samples of at most 20 digits,
 * under 5 KiB with the HELP lines), so 16 KiB always holds it. */
#define METRICS_OUT_MAX		16384

/* Accepts of the metrics listener per loop turn. */
#define METRICS_ACCEPT_BURST	(METRICS_CONN_MAX + 1)

/* Request outcomes: an HTTP status, or close without an answer. */
#define METRICS_CLOSE		0

/* What the request parser waits on. */
enum metrics_req_state {
	METRICS_REQ_HEAD,		/* more of the head */
	METRICS_REQ_DONE,		/* nothing: the head is whole, or
					 * too long; status tells */
};

struct metrics_req {
	enum metrics_req_state state;
	int	status;			/* once done: 200, 400, 404, 405,
					 * 505, or METRICS_CLOSE */
	size_t	len;			/* bytes of head kept */
	size_t	start;			/* where the request line starts */
	size_t	line;			/* where the current line starts */
	char	head[METRICS_HEAD_MAX];
};

/* The values one scrape shows; metrics_collect() fills them. */
struct metrics_values {
	struct smtp_stats smtp;
	struct store_stats store;
	struct http_stats http;
	int	sessions;		/* now */
	int	sessions_max;		/* max_sessions in effect */
	int64_t	start_time;		/* Unix time of the process start */
};

extern void metrics_req_init(struct metrics_req *);
extern size_t metrics_req_feed(struct metrics_req *, const void *, size_t);
extern size_t metrics_render(char *, size_t, const struct metrics_values *);
extern size_t metrics_answer(char *, size_t, int,
		    const struct metrics_values *);
extern void metrics_collect(struct metrics_values *, int, int);
extern void metrics_start(void);
extern int metrics_poll(int, struct pollfd *, int, int64_t *);
extern void metrics_event(int, const struct pollfd *, int, int, int,
		    int64_t);
extern void metrics_stop(void);

#endif
