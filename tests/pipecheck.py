#!/usr/bin/env python3
"""pipecheck.py - judge detach's pipe mode from the outside

Usage: tests/pipecheck.py [--detach PATH] [--only SUBSTRING] [--no-big]

Runs `detach -p -c CONF` over every message under tests/corpus and over
messages made here, and prints one "ok NAME" or "FAIL NAME: why" line per
case, as tests/run.sh counts them.

The judge is independent of detach's code: Python's email package parses
input and output, hashlib and hmac compute what the object keys and
digests must be, and the byte ranges of the output that are not link
parts must be the input's bytes, in order, with nothing lost. What
"qualifies" for detaching is the rule of the specification, applied to
Python's parse of the input:

  - a leaf with Content-Disposition: attachment or a file name, decoded
    size >= min_size, is detached;
  - never anything inside multipart/signed, multipart/encrypted or
    multipart/related, never application/pkcs7-mime, pkcs7-signature,
    pgp-signature, pgp-encrypted or text/calendar;
  - a message/rfc822 part is walked into.

On a malformed message (Python reports defects) the judge only insists
that no byte outside a replaced part is lost and that what was stored is
what the link says; which parts get detached is then detach's call.
"""

import argparse
import base64
import binascii
import email
import email.header
import email.policy
import email.utils
import hashlib
import hmac
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")

SECRET = hashlib.sha256(b"detach pipe test secret").hexdigest()
LINK_BASE = "https://files.example.org/a/"
HUGE = "1000m"

EXCLUDED_TYPES = {
    "application/pkcs7-mime", "application/pkcs7-signature",
    "application/pgp-signature", "application/pgp-encrypted",
    "text/calendar",
}
# Variants of the above that a careful detacher also leaves alone.
MAYBE_TYPES = {"application/x-pkcs7-mime", "application/x-pkcs7-signature"}
OPAQUE_CONTAINERS = {
    "multipart/signed", "multipart/encrypted", "multipart/related",
}
KNOWN_CTE = {"7bit", "8bit", "binary", "base64", "quoted-printable"}
# A link part stays under this for names whose percent-encoded form has
# up to 100 characters (the spec says 100 characters; a UTF-8 name
# triples in the link, which appears three times).
LINKPART_MAX = 1024
# More qualifying parts than this in one message may pass through.
OBJECTS_MAX = 32
RSS_MAX_KB = 16 * 1024

PCT_RE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+")
LINK_HDR_RE = re.compile(rb"(?im)^X-Detach-URL[ \t]*:")

results = {"pass": 0, "fail": 0}


def report(name, problems):
    if problems:
        why = "; ".join(problems)
        if len(why) > 600:
            why = why[:600] + "..."
        print("FAIL %s: %s" % (name, why.replace("\n", " ")), flush=True)
        results["fail"] += 1
    else:
        print("ok %s" % name, flush=True)
        results["pass"] += 1


class Setup:
    """One run's configuration, store and spool, in a fresh directory."""

    def __init__(self, root, min_size="1", on_fail="keep", store=None,
                 spool=None, secret=SECRET):
        self.dir = tempfile.mkdtemp(dir=root)
        self.store = store or os.path.join(self.dir, "store")
        self.spool = spool or os.path.join(self.dir, "spool")
        if store is None:
            os.mkdir(self.store)
        if spool is None:
            os.mkdir(self.spool)
        self.min_size = min_size
        self.secret = secret
        self.conf = os.path.join(self.dir, "detach.conf")
        with open(self.conf, "w") as f:
            f.write("# pipe mode test\n"
                    "store = dir:%s\n"
                    "link_base = %s\n"
                    "min_size = %s\n"
                    "secret = %s\n"
                    "on_store_failure = %s\n"
                    "spool_dir = %s\n" % (self.store, LINK_BASE, min_size,
                                          secret, on_fail, self.spool))

    def min_bytes(self):
        m = re.fullmatch(r"(\d+)([kKmM]?)", self.min_size)
        n = int(m.group(1))
        mult = {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
        return n * mult

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run_detach(detach, setup, data, timeout=120):
    p = subprocess.run([detach, "-p", "-c", setup.conf], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------------
# Reading messages
# ---------------------------------------------------------------------

def parse(data):
    """Python's parse; the default policy unfolds header fields as RFC
    5322 says (compat32 keeps the line break inside a folded boundary)."""
    return email.message_from_bytes(data, policy=email.policy.default)


def is_container(part):
    """A part the detacher walks into: multiparts and message/rfc822.
    Python also splits message/delivery-status into blocks; for MIME it
    is a leaf."""
    ct = part.get_content_type()
    return ct.startswith("multipart/") or ct == "message/rfc822"


def walk(msg, ancestors=()):
    """(part, ancestors) in the order of Message.walk(), leaves as MIME
    sees them."""
    yield msg, ancestors
    if msg.is_multipart() and is_container(msg):
        for sub in msg.get_payload():
            yield from walk(sub, ancestors + (msg,))


def part_name(part):
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:
        return ""
    if isinstance(name, tuple):
        name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return ""
    name = str(name)
    if "=?" in name:
        try:
            name = str(email.header.make_header(
                email.header.decode_header(name)))
        except Exception:
            pass
    return name.strip()


def cte_of(part):
    v = part.get("Content-Transfer-Encoding")
    return str(v).strip().lower() if v is not None else "7bit"


CT_RE = re.compile(r"\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+"
                   r"\s*(;.*)?", re.S)


def header_doubt(part):
    """Why Python's reading of a part's header may not be the only one."""
    for h in ("Content-Type", "Content-Disposition"):
        try:
            v = part.get(h)
        except Exception:
            return "%s unreadable" % h
        for d in getattr(v, "defects", None) or ():
            # RFC 2047 words inside quotes are what mailers send as
            # names; the spec asks for them to be read.
            if "encoded word" not in str(d) and \
                    "encoded-word" not in str(d):
                return "%s has defects: %s" % (h, d)
    v = part.get("Content-Type")
    if v is not None and not CT_RE.fullmatch(str(v)):
        return "Content-Type %r is not type/subtype" % str(v)[:40]
    return ""


def classify(part, ancestors):
    """'yes', 'no' or 'maybe', and why: does the spec detach this part?"""
    ct = part.get_content_type()
    if is_container(part):
        return "no", "container %s" % ct
    for a in ancestors:
        if a.get_content_type() in OPAQUE_CONTAINERS:
            return "no", "inside %s" % a.get_content_type()
    if ct in EXCLUDED_TYPES:
        return "no", "type %s" % ct
    name = part_name(part)
    if part.get_content_disposition() != "attachment" and not name:
        return "no", "neither attachment nor named"
    if ct in MAYBE_TYPES:
        return "maybe", ct
    if ct.startswith("message/"):
        return "maybe", ct
    if ct.startswith("text/") and not name:
        return "maybe", "text without a name"
    if not ancestors or not ancestors[-1].get_content_type().startswith(
            "multipart/"):
        return "maybe", "not a child of a multipart"
    if cte_of(part) not in KNOWN_CTE:
        return "maybe", "encoding %s" % cte_of(part)
    if part.defects:
        return "maybe", "defects"
    doubt = header_doubt(part)
    if doubt:
        return "maybe", doubt
    for a in ancestors:
        for k, v in a.raw_items():
            if k.lower() == "content-type" and \
                    re.search(r'boundary\s*=\s*"[^"]*\n', str(v), re.I):
                # Readers differ on a boundary folded inside its quotes
                # (RFC 5322 unfolds it; many parsers do not).
                return "maybe", "boundary folded inside quotes"
        if a.get_unixfrom():
            # An mbox "From " line opening a forwarded message is not
            # RFC 5322; passing that message through whole is fair.
            return "maybe", "forwarded message opens with a From_ line"
    return "yes", ""


def raw_field(head, name):
    """A field's value in raw header bytes as RFC 5322 2.2.3 unfolds it
    (line breaks dropped, the white space after them kept), white space
    at its ends trimmed; the first such field, or None."""
    m = re.search(rb"(?im)^" + re.escape(name) +
                  rb"[ \t]*:((?:[^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*)", head)
    if not m:
        return None
    return re.sub(rb"\r?\n", b"", m.group(1)).strip(b" \t")


def split_head(raw):
    """Offset of a part's body in its raw bytes (after the blank line)."""
    if raw.startswith(b"\r\n"):
        return 2
    if raw.startswith(b"\n"):
        return 1
    cands = []
    for sep in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
        i = raw.find(sep)
        if i >= 0:
            cands.append(i + len(sep))
    return min(cands) if cands else len(raw)


B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def strict_decode(cte, body):
    """Decode a body by the book; None when it is not clean."""
    if cte in ("7bit", "8bit", "binary"):
        return body
    if cte == "base64":
        s = re.sub(rb"[ \t\r\n]", b"", body)
        if len(s) % 4 or not B64_CHARS.fullmatch(s):
            return None
        try:
            return base64.b64decode(s, validate=True)
        except binascii.Error:
            return None
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    return None


def eol_of_line_before(data, pos):
    """Does the line ending just before pos end in CRLF?"""
    return data[max(0, pos - 2):pos] == b"\r\n"


def find_link_ranges(out):
    """Byte ranges [a, b) of the link parts of an output message.

    A link part starts right after the delimiter line above its headers
    and ends before the line ending that precedes the next line starting
    with "--" (the next delimiter), or at the end of the output."""
    ranges = []
    problems = []
    for m in LINK_HDR_RE.finditer(out):
        pos = m.start()
        line_start = pos
        start = None
        while line_start > 0:
            prev_end = line_start - 1
            prev_start = out.rfind(b"\n", 0, prev_end) + 1
            line = out[prev_start:prev_end].rstrip(b"\r")
            if line.startswith(b"--"):
                start = line_start
                break
            if not line.strip():
                break
            line_start = prev_start
        if start is None:
            problems.append("link header at %d is not in the header of a "
                            "part after a delimiter" % pos)
            continue
        i = out.find(b"\n--", pos)
        if i < 0:
            end = len(out)
        else:
            end = i - 1 if out[i - 1:i] == b"\r" else i
        if ranges and start < ranges[-1][1]:
            problems.append("link parts overlap at %d" % start)
            continue
        ranges.append((start, end))
    return ranges, problems


def match_gaps(inp, out, ranges):
    """Input byte ranges that the link parts replaced, or (None, why).

    The output minus its link parts must be the input minus the replaced
    parts: same bytes, same order, nothing lost or added."""
    if not ranges:
        if out == inp:
            return [], None
        return None, "no link part, yet output differs from input (%s)" % \
            first_diff(inp, out)
    segs = []
    prev = 0
    for a, b in ranges:
        segs.append(out[prev:a])
        prev = b
    segs.append(out[prev:])
    if not inp.startswith(segs[0]):
        return None, "bytes before the first link part differ (%s)" % \
            first_diff(inp, segs[0])
    pos = len(segs[0])
    gaps = []
    for k, s in enumerate(segs[1:-1]):
        i = inp.find(s, pos + 1)
        if i < 0:
            return None, "bytes after link part %d are not in the input" % k
        gaps.append((pos, i))
        pos = i + len(s)
    last = segs[-1]
    if not inp.endswith(last) or len(inp) - len(last) <= pos:
        return None, "bytes after the last link part differ from the " \
            "input's end"
    gaps.append((pos, len(inp) - len(last)))
    return gaps, None


def first_diff(a, b):
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return "first difference at byte %d: in %r out %r; sizes %d/%d" % (
        i, a[i:i + 24], b[i:i + 24], len(a), len(b))


def hmac_hex(secret_hex, sha_hex):
    return hmac.new(bytes.fromhex(secret_hex), bytes.fromhex(sha_hex),
                    hashlib.sha256).hexdigest()[:32]


def has_opaque_top(msg):
    ct = msg.get_content_type()
    return ct in ("multipart/signed", "multipart/encrypted",
                  "application/pkcs7-mime", "application/x-pkcs7-mime")


def store_files(store):
    found = set()
    for dirpath, dirnames, filenames in os.walk(store):
        for fn in filenames:
            found.add(os.path.relpath(os.path.join(dirpath, fn), store))
    return found


# ---------------------------------------------------------------------
# The judge
# ---------------------------------------------------------------------

def judge(setup, inp, rc, out, err, expect_rc=0, strict=None):
    """Check one pipe-mode run; returns (problems, detached list).

    Each detached entry is a dict: url, key, hex, name, sha, size,
    in_part, ancestors, raw (the replaced input bytes), link (the link
    part's bytes). strict: None = decide from Python's defects."""
    problems = []
    det = []
    if rc != expect_rc:
        problems.append("exit %d, expected %d (stderr %r)" % (
            rc, expect_rc, err[:200]))
        return problems, det
    ranges, probs = find_link_ranges(out)
    problems += probs
    gaps, why = match_gaps(inp, out, ranges)
    if why:
        problems.append(why)
        return problems, det

    inmsg = parse(inp)
    outmsg = parse(out)
    ins = list(walk(inmsg))
    outs = list(walk(outmsg))
    clean = all(not p.defects for p, _ in ins)
    if strict is None:
        strict = clean
    if has_opaque_top(inmsg) and out != inp:
        problems.append("signed or encrypted message changed")
    links = []
    tree = []
    if len(ins) != len(outs):
        tree.append("output has %d parts, input %d" % (len(outs), len(ins)))
    else:
        links, tree = compare_trees(setup, ins, outs, strict, len(ranges))
        if len(links) != len(ranges):
            tree.append("%d link parts in bytes, %d in the parse" % (
                len(ranges), len(links)))
    if tree:
        if clean:
            return problems + tree, det
        # Python reads this malformed message otherwise than a MIME
        # scanner may; judge each replaced part on its own bytes.
        links = [(parse(inp[a:b]), (), parse(out[la:lb]))
                 for (a, b), (la, lb) in zip(gaps, ranges)]

    keys = set()
    for (ip, anc, op), (ga, gb), (la, lb) in zip(links, gaps, ranges):
        raw = inp[ga:gb]
        link = out[la:lb]
        d = {"in_part": ip, "ancestors": anc, "raw": raw, "link": link}
        det.append(d)
        problems += judge_link(setup, ip, anc, op, raw, link, out, la,
                               strict, d)
        if "key" in d:
            keys.add(d["key"])

    # The store holds exactly the linked objects: no temporary files,
    # nothing outside <dir>/<32hex>/<name>.
    if os.path.isdir(setup.store):
        have = store_files(setup.store)
        extra = have - keys
        if extra:
            problems.append("store has files no link names: %s" %
                            sorted(extra)[:3])
    if os.path.isdir(setup.spool):
        left = os.listdir(setup.spool)
        if left:
            problems.append("spool_dir not empty after the run: %s" %
                            left[:3])
    return problems, det


def compare_trees(setup, ins, outs, strict, nranges):
    """Walk input and output parses side by side: the output is the input
    with some leaves replaced by link parts."""
    problems = []
    links = []
    for (ip, anc), (op, oanc) in zip(ins, outs):
        if op["X-Detach-URL"] is not None:
            links.append((ip, anc, op))
            continue
        if ip.get_content_type() != op.get_content_type():
            problems.append("part type %s became %s" % (
                ip.get_content_type(), op.get_content_type()))
        elif not ip.is_multipart() and ip.get_payload() != op.get_payload():
            problems.append("body of an untouched %s part changed" %
                            ip.get_content_type())
        if [type(d).__name__ for d in ip.defects] != \
                [type(d).__name__ for d in op.defects]:
            problems.append("output parse has other defects: %s vs %s" % (
                [type(d).__name__ for d in op.defects],
                [type(d).__name__ for d in ip.defects]))
        if not is_container(ip) and not ip.is_multipart():
            verdict, why = classify(ip, anc)
            size = len(ip.get_payload(decode=True) or b"")
            if verdict == "yes" and strict and size >= setup.min_bytes() \
                    and nranges < OBJECTS_MAX:
                problems.append("qualifying part not detached: %s %r %d "
                                "bytes" % (ip.get_content_type(),
                                           part_name(ip), size))
    return links, problems


def judge_link(setup, ip, anc, op, raw, link, out, la, strict, d):
    problems = []
    url = str(op["X-Detach-URL"]).strip()
    sha = str(op["X-Detach-SHA256"] or "").strip()
    size_s = str(op["X-Detach-Size"] or "").strip()
    moz = op["X-Mozilla-External-Attachment-URL"]
    d["url"] = url
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        problems.append("X-Detach-SHA256 %r is not 64 lowercase hex" % sha)
        return problems
    if not size_s.isdigit():
        problems.append("X-Detach-Size %r is not a number" % size_s)
        return problems
    size = int(size_s)
    d["sha"] = sha
    d["size"] = size
    if moz is None or str(moz).strip() != url:
        problems.append("X-Mozilla-External-Attachment-URL %r is not the "
                        "link" % moz)
    for h in ("Content-Type", "Content-Disposition"):
        for k, v in (op.get_params(header=h) or [])[1:]:
            if k.lower() == "size" and str(v) != size_s:
                problems.append("%s size=%s, X-Detach-Size %s" % (h, v,
                                                                  size_s))

    # Which part was replaced, and may it be?
    verdict, why = classify(ip, anc)
    if verdict == "no":
        problems.append("detached a part that must stay: %s (%s)" % (
            ip.get_content_type(), why))
    if size < setup.min_bytes():
        problems.append("detached %d bytes, under min_size %d" % (
            size, setup.min_bytes()))

    # The content: Python's decoding or a by-the-book decoding of the
    # replaced bytes must give the digest the link part names.
    cte = cte_of(ip)
    body = raw[split_head(raw):]
    cands = {}
    py = ip.get_payload(decode=True)
    if py is not None:
        cands["python"] = py
    strict_body = strict_decode(cte, body)
    if strict_body is not None:
        cands["strict"] = strict_body
    clean = (strict_body is not None and cte in KNOWN_CTE and
             not ip.defects)
    match = [k for k, v in cands.items() if hashlib.sha256(v).hexdigest()
             == sha]
    if not match:
        if strict or clean:
            problems.append("X-Detach-SHA256 %s is not the decoded part's "
                            "(python %s, %d bytes)" % (
                                sha[:16], hashlib.sha256(py or b"")
                                .hexdigest()[:16], len(py or b"")))
    elif len(cands[match[0]]) != size:
        problems.append("X-Detach-Size %d, decoded %d" % (
            size, len(cands[match[0]])))

    # The link and the key.
    if not url.startswith(LINK_BASE):
        problems.append("link %r does not start with link_base" % url)
        return problems
    key = url[len(LINK_BASE):]
    m = re.fullmatch(r"([0-9a-f]{32})/(.+)", key)
    if not m:
        problems.append("key %r is not 32 hex, '/', name" % key)
        return problems
    hx, pct = m.group(1), m.group(2)
    want = hmac_hex(setup.secret, sha)
    if hx != want:
        alt = hmac.new(bytes.fromhex(setup.secret), sha.encode(),
                       hashlib.sha256).hexdigest()[:32]
        note = " (it is the HMAC of the hex digest)" if hx == alt else ""
        problems.append("key %s is not HMAC-SHA256(secret, sha256)[:16] "
                        "%s%s" % (hx, want, note))
    if not PCT_RE.fullmatch(pct):
        problems.append("name in the link %r is not percent-encoded" % pct)
    try:
        name = urllib.parse.unquote(pct, errors="strict")
    except UnicodeDecodeError:
        problems.append("name in the link %r is not UTF-8" % pct)
        return problems
    d["hex"] = hx
    d["name"] = name
    d["key"] = hx + "/" + name
    if "/" in name or "\\" in name or ".." in name or \
            any(ord(c) < 0x20 or ord(c) == 0x7f for c in name):
        problems.append("unsafe name in the key: %r" % name)
        return problems
    orig = part_name(ip)
    if orig and not header_doubt(ip) and re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,98}"
                             r"[A-Za-z0-9_-]", orig) and ".." not in orig \
            and name != orig:
        problems.append("plain name %r became %r" % (orig, name))

    # The object.
    path = os.path.join(setup.store, hx, name)
    try:
        st = os.lstat(path)
    except OSError:
        problems.append("link to %s, but no object there" % d["key"])
        return problems
    if not stat.S_ISREG(st.st_mode):
        problems.append("object %s is not a regular file" % d["key"])
        return problems
    if not st.st_mode & stat.S_IROTH:
        problems.append("object %s not readable by others (mode %o)" % (
            d["key"], st.st_mode & 0o777))
    dst = os.stat(os.path.join(setup.store, hx))
    if not dst.st_mode & stat.S_IXOTH:
        problems.append("object directory %s not searchable by others" % hx)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != sha:
        problems.append("stored object's SHA-256 %s is not X-Detach-SHA256"
                        % h.hexdigest()[:16])
    if st.st_size != size:
        problems.append("stored object has %d bytes, X-Detach-Size %d" % (
            st.st_size, size))

    # The original fields, for a restore to give back.
    ihead = raw[:split_head(raw)]
    lhead = link[:split_head(link)]
    for h in (b"Content-Type", b"Content-Disposition"):
        want = raw_field(ihead, h)
        got = raw_field(lhead, b"X-Detach-" + h)
        if want == b"":
            want = None
        if got != want:
            problems.append("X-Detach-%s %r, original %r" % (
                h.decode(), got, want))

    # The link part itself.
    if op.get_content_type() != "text/plain":
        problems.append("link part is %s" % op.get_content_type())
    cs = op.get_content_charset()
    if cs not in ("utf-8", "us-ascii"):
        problems.append("link part charset %r" % cs)
    disp = op.get_content_disposition()
    if disp not in (None, "inline"):
        problems.append("link part disposition %r" % disp)
    if cte_of(op) not in ("7bit", "quoted-printable"):
        problems.append("link part encoding %r" % cte_of(op))
    try:
        text = (op.get_payload(decode=True) or b"").decode("utf-8")
    except UnicodeDecodeError:
        text = None
        problems.append("link part body is not UTF-8")
    if text is not None:
        if url not in text:
            problems.append("link part body does not show the link")
        if name not in text:
            problems.append("link part body does not show the name %r" %
                            name)
    if len(pct) <= 100 and len(link) > LINKPART_MAX:
        problems.append("link part has %d bytes" % len(link))
    crlf = eol_of_line_before(out, la)
    if crlf:
        if re.search(rb"(?<!\r)\n", link) or re.search(rb"\r(?!\n)", link):
            problems.append("link part does not use CRLF like its message")
    elif b"\r" in link:
        problems.append("link part uses CR in an LF message")
    return problems


# ---------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------

def corpus_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(CORPUS):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.startswith("_") or fn.endswith(".md"):
                continue
            out.append(os.path.join(dirpath, fn))
    return out


def eol_variant(data):
    """The message with its other line ending convention, and which."""
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n")
    if crlf * 2 >= lf and lf:
        return data.replace(b"\r\n", b"\n"), "lf"
    return re.sub(rb"\r?\n", b"\r\n", data), "crlf"


def corpus_case(detach, root, path):
    name = "pipe corpus/" + os.path.relpath(path, CORPUS)
    data = open(path, "rb").read()
    problems = []

    # Nothing qualifies under a huge min_size: byte-identical.
    s = Setup(root, min_size=HUGE)
    rc, out, err = run_detach(detach, s, data)
    if rc != 0:
        problems.append("huge min_size: exit %d %r" % (rc, err[:200]))
    elif out != data:
        problems.append("huge min_size: output differs (%s)" %
                        first_diff(data, out))
    elif store_files(s.store):
        problems.append("huge min_size: something was stored")
    s.cleanup()

    variant, kind = eol_variant(data)
    for label, msg, ms in (("min_size=1", data, "1"),
                           ("min_size=4096", data, "4096"),
                           (kind + " variant", variant, "1")):
        s = Setup(root, min_size=ms)
        rc, out, err = run_detach(detach, s, msg)
        probs, det = judge(s, msg, rc, out, err)
        if not probs and kind == "crlf" and msg is variant:
            if re.search(rb"(?<!\r)\n", out):
                probs.append("a bare LF in the output of a CRLF message")
        if not probs and kind == "lf" and msg is variant:
            if out.count(b"\r") != msg.count(b"\r"):
                probs.append("CR added to an LF message")
        problems += ["%s: %s" % (label, p) for p in probs]
        s.cleanup()
    report(name, problems)


# ---------------------------------------------------------------------
# Generated messages
# ---------------------------------------------------------------------

def b64_lines(data, eol):
    s = base64.b64encode(data)
    return eol.join(s[i:i + 76] for i in range(0, len(s), 76)) + eol


def qp_encode(data, eol):
    """Quoted-printable of binary data: everything but plain printable
    characters as =XX, soft breaks under 76 columns (RFC 2045 6.7)."""
    out = []
    line = []
    n = 0
    for c in data:
        if 33 <= c <= 126 and c != 61:
            t = chr(c)
        else:
            t = "=%02X" % c
        if n + len(t) > 75:
            out.append("".join(line) + "=")
            line = []
            n = 0
        line.append(t)
        n += len(t)
    out.append("".join(line))
    return eol.join(o.encode("ascii") for o in out) + eol


def mixed(parts, eol=b"\r\n", boundary=b"=_detach_test_0", headers=b"",
          ctype=b"multipart/mixed"):
    e = eol
    m = (b"From: Alice <alice@example.org>" + e +
         b"To: Bob <bob@example.org>" + e +
         b"Subject: pipe mode test" + e +
         b"Date: Mon, 3 Nov 2025 10:00:00 +0000" + e +
         b"Message-ID: <pipe-test@example.org>" + e +
         headers +
         b"MIME-Version: 1.0" + e +
         b"Content-Type: " + ctype + b"; boundary=\"" + boundary + b"\"" +
         e + e + b"This is a multi-part message in MIME format." + e)
    return m + body_of(parts, eol, boundary)


def body_of(parts, eol, boundary):
    m = b""
    for p in parts:
        m += eol + b"--" + boundary + eol + p
    return m + eol + b"--" + boundary + b"--" + eol


def text_part(text=b"Hello Bob,\r\n\r\nthe file is attached.\r\n",
              eol=b"\r\n"):
    return (b"Content-Type: text/plain; charset=us-ascii" + eol +
            b"Content-Transfer-Encoding: 7bit" + eol + eol +
            text.replace(b"\r\n", eol))


def att_part(data, name=b"file.bin", ctype=b"application/octet-stream",
             eol=b"\r\n", disp=None, enc="base64"):
    e = eol
    h = b"Content-Type: " + ctype
    if name is not None and disp is None:
        h += b"; name=\"" + name + b"\""
    h += e
    if disp is None:
        disp = b"attachment" + (b"; filename=\"" + name + b"\""
                                if name is not None else b"")
    h += b"Content-Disposition: " + disp + e
    if enc == "base64":
        return h + b"Content-Transfer-Encoding: base64" + e + e + \
            b64_lines(data, e).rstrip(e)
    if enc == "quoted-printable":
        return h + b"Content-Transfer-Encoding: quoted-printable" + e + e + \
            qp_encode(data, e).rstrip(e)
    return h + b"Content-Transfer-Encoding: " + enc.encode() + e + e + data


class Gen:
    def __init__(self, detach, root, seed):
        self.detach = detach
        self.root = root
        self.rng = random.Random(seed)

    def rand(self, n):
        return self.rng.randbytes(n)

    def run(self, msg, min_size="1", on_fail="keep", store=None, spool=None,
            expect_rc=0):
        s = Setup(self.root, min_size=min_size, on_fail=on_fail,
                  store=store, spool=spool)
        rc, out, err = run_detach(self.detach, s, msg)
        return s, rc, out, err

    def case(self, name, msg, expect, min_size="1", strict=True):
        """Run msg; expect is a list of (sha256 hex, size, name or None)
        of the parts that must be detached, in order."""
        s, rc, out, err = self.run(msg, min_size=min_size)
        probs, det = judge(s, msg, rc, out, err, strict=strict)
        if not probs:
            got = [(d.get("sha"), d.get("size")) for d in det]
            want = [(w[0], w[1]) for w in expect]
            if got != want:
                probs.append("detached %s, expected %s" % (
                    [(g[0][:12], g[1]) for g in got],
                    [(w[0][:12], w[1]) for w in want]))
            else:
                for d, w in zip(det, expect):
                    if w[2] is not None and d.get("name") != w[2]:
                        probs.append("name %r, expected %r" % (
                            d.get("name"), w[2]))
        report("pipe gen/" + name, probs)
        return s, det, out

    def all(self, with_huge=True):
        sha = lambda b: hashlib.sha256(b).hexdigest()
        data = self.rand(1 << 20)
        want = [(sha(data), len(data), "random.bin")]
        for eol, tag in ((b"\r\n", "crlf"), (b"\n", "lf")):
            msg = mixed([text_part(eol=eol),
                         att_part(data, b"random.bin", eol=eol)], eol=eol)
            s, det, out = self.case("base64-1mib-" + tag, msg, want)
            s.cleanup()
            msg = mixed([text_part(eol=eol),
                         att_part(data, b"random.bin", eol=eol,
                                  enc="quoted-printable")], eol=eol)
            s, det, out = self.case("qp-1mib-" + tag, msg, want)
            s.cleanup()

        # A forwarded message whose own attachment qualifies.
        inner_data = self.rand(300 * 1024)
        inner = mixed([text_part(b"Inner text.\r\n"),
                       att_part(inner_data, b"inner.pdf",
                                b"application/pdf")],
                      boundary=b"inner-boundary-1")
        fwd = mixed([text_part(b"Forwarding this.\r\n"),
                     b"Content-Type: message/rfc822\r\n"
                     b"Content-Disposition: attachment; "
                     b"filename=\"fwd.eml\"\r\n\r\n" + inner.rstrip(b"\r\n")])
        s, det, out = self.case("rfc822-forwarded", fwd,
                                [(sha(inner_data), len(inner_data),
                                  "inner.pdf")])
        s.cleanup()

        # The close delimiter is the last line, without a line ending
        # (RFC 2046 5.1.1: the CRLF after it belongs to the epilogue).
        small = self.rand(3000)
        msg = mixed([text_part(), att_part(small, b"last.bin")])
        s, det, out = self.case("close-delimiter-at-eof",
                                msg.rstrip(b"\r\n"),
                                [(sha(small), 3000, "last.bin")])
        s.cleanup()

        # RFC 2231 and RFC 2047 names.
        d1, d2, d3 = self.rand(5000), self.rand(5001), self.rand(5002)
        n1 = "Grüße-€.pdf"
        n2 = "日本語.txt"
        n3 = "continued-name-ÄÖÜ.zip"
        p1 = (b"Content-Type: application/pdf\r\n"
              b"Content-Disposition: attachment;\r\n"
              b" filename*=utf-8''" +
              urllib.parse.quote(n1).encode() + b"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n" +
              b64_lines(d1, b"\r\n").rstrip(b"\r\n"))
        enc2 = "=?UTF-8?B?%s?=" % base64.b64encode(n2.encode()).decode()
        p2 = (b"Content-Type: text/plain; name=\"" + enc2.encode() +
              b"\"\r\n"
              b"Content-Disposition: attachment; filename=\"" +
              enc2.encode() + b"\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n" +
              b64_lines(d2, b"\r\n").rstrip(b"\r\n"))
        q3 = urllib.parse.quote(n3).encode()
        p3 = (b"Content-Type: application/zip\r\n"
              b"Content-Disposition: attachment;\r\n"
              b" filename*0*=utf-8''" + q3[:12] + b";\r\n"
              b" filename*1*=" + q3[12:] + b"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n" +
              b64_lines(d3, b"\r\n").rstrip(b"\r\n"))
        msg = mixed([text_part(), p1, p2, p3])
        s, det, out = self.case("encoded-names", msg,
                                [(sha(d1), 5000, n1), (sha(d2), 5001, n2),
                                 (sha(d3), 5002, n3)])
        s.cleanup()

        # Hostile names: the key and the file stay inside the store.
        evil = [b"../../../etc/passwd", b"..\\..\\boot.ini",
                b"a\x01b\x1fc\x7fd.txt", b"..", b"dir/../x..y.bin"]
        parts = [text_part()]
        blobs = []
        for i, n in enumerate(evil):
            blob = self.rand(2000 + i)
            blobs.append(blob)
            parts.append(att_part(blob, n.replace(b"\\", b"\\\\")))
        msg = mixed(parts)
        s, det, out = self.case("hostile-names", msg,
                                [(sha(b), len(b), None) for b in blobs])
        probs = []
        for dirpath, dirnames, filenames in os.walk(s.dir):
            for fn in filenames:
                p = os.path.realpath(os.path.join(dirpath, fn))
                if not p.startswith(os.path.realpath(s.store) + "/") and \
                        p != os.path.realpath(s.conf):
                    probs.append("file outside the store: %s" % p)
        for d in det:
            if not d.get("name"):
                probs.append("empty name in the key")
        report("pipe gen/hostile-names-contained", probs)
        s.cleanup()

        # Same file twice: one object, the same link twice; and the same
        # message again into the same store changes nothing.
        blob = self.rand(40000)
        msg = mixed([text_part(), att_part(blob, b"twice.dat"),
                     att_part(blob, b"twice.dat")])
        s, det, out = self.case("dedupe", msg,
                                [(sha(blob), 40000, "twice.dat")] * 2)
        probs = []
        if len(det) == 2 and det[0].get("url") != det[1].get("url"):
            probs.append("two links for one file")
        if len(store_files(s.store)) != 1:
            probs.append("store holds %d files" % len(store_files(s.store)))
        rc, out2, err = run_detach(self.detach, s, msg)
        if rc != 0 or out2 != out:
            probs.append("second run gave exit %d or another output" % rc)
        if len(store_files(s.store)) != 1:
            probs.append("store holds %d files after a second run" %
                         len(store_files(s.store)))
        report("pipe gen/dedupe-one-object", probs)
        s.cleanup()

        # min_size: at or above is detached, below is not.
        a999, a1000 = self.rand(999), self.rand(1000)
        msg = mixed([text_part(), att_part(a999, b"small.bin"),
                     att_part(a1000, b"exact.bin")])
        s, det, out = self.case("min-size-boundary", msg,
                                [(sha(a1000), 1000, "exact.bin")],
                                min_size="1000")
        s.cleanup()

        # What never goes: related, calendar, signatures, signed mail.
        big = self.rand(50000)
        ok_blob = self.rand(50001)
        related = (b"Content-Type: multipart/related; boundary=\"rel-1\"\r\n"
                   b"\r\n" + body_of([
                       b"Content-Type: text/html; charset=us-ascii\r\n\r\n"
                       b"<html><img src=\"cid:img1@x\"></html>",
                       b"Content-Type: image/png; name=\"img.png\"\r\n"
                       b"Content-ID: <img1@x>\r\n"
                       b"Content-Disposition: inline; "
                       b"filename=\"img.png\"\r\n"
                       b"Content-Transfer-Encoding: base64\r\n\r\n" +
                       b64_lines(big, b"\r\n").rstrip(b"\r\n")],
                       b"\r\n", b"rel-1").rstrip(b"\r\n"))
        cal = att_part(big, b"invite.ics", b"text/calendar; method=REQUEST")
        pgp = att_part(big, b"signature.asc", b"application/pgp-signature")
        p7 = att_part(big, b"smime.p7s", b"application/pkcs7-signature")
        p7m = att_part(big, b"smime.p7m", b"application/pkcs7-mime")
        msg = mixed([text_part(), related, cal, pgp, p7, p7m,
                     att_part(ok_blob, b"ok.bin")])
        s, det, out = self.case("never-detached-kinds", msg,
                                [(sha(ok_blob), 50001, "ok.bin")])
        s.cleanup()

        signed_inner = mixed([text_part(), att_part(big, b"report.pdf",
                                                    b"application/pdf")],
                             boundary=b"signed-inner")
        signed_body = signed_inner[signed_inner.index(b"Content-Type: "
                                                      b"multipart/mixed"):]
        signed = mixed([signed_body.rstrip(b"\r\n"),
                        b"Content-Type: application/pkcs7-signature; "
                        b"name=\"smime.p7s\"\r\n"
                        b"Content-Transfer-Encoding: base64\r\n"
                        b"Content-Disposition: attachment; "
                        b"filename=\"smime.p7s\"\r\n\r\n" +
                        b64_lines(self.rand(3000), b"\r\n").rstrip(b"\r\n")],
                       ctype=b"multipart/signed; "
                             b"protocol=\"application/pkcs7-signature\"; "
                             b"micalg=sha-256",
                       boundary=b"signed-outer")
        self.identical("signed-identical", signed)
        enc = mixed([b"Content-Type: application/pgp-encrypted\r\n\r\n"
                     b"Version: 1",
                     att_part(big, b"encrypted.asc")],
                    ctype=b"multipart/encrypted; "
                          b"protocol=\"application/pgp-encrypted\"",
                    boundary=b"enc-outer")
        self.identical("encrypted-identical", enc)
        p7top = (b"From: a@example.org\r\nTo: b@example.org\r\n"
                 b"Subject: s/mime\r\nMIME-Version: 1.0\r\n"
                 b"Content-Type: application/pkcs7-mime; "
                 b"smime-type=enveloped-data; name=\"smime.p7m\"\r\n"
                 b"Content-Disposition: attachment; "
                 b"filename=\"smime.p7m\"\r\n"
                 b"Content-Transfer-Encoding: base64\r\n\r\n" +
                 b64_lines(big, b"\r\n"))
        self.identical("pkcs7-mime-identical", p7top)
        # A signed message forwarded inside a mixed one: still untouched.
        fwd_signed = mixed([text_part(),
                            b"Content-Type: message/rfc822\r\n\r\n" +
                            signed.rstrip(b"\r\n"),
                            att_part(ok_blob, b"ok.bin")],
                           boundary=b"fwd-signed")
        s, det, out = self.case("forwarded-signed", fwd_signed,
                                [(sha(ok_blob), 50001, "ok.bin")])
        s.cleanup()

        # More attachments than one message may detach: the rest pass.
        many = [self.rand(100 + i) for i in range(40)]
        msg = mixed([text_part()] + [att_part(b, b"f%d.bin" % i)
                                    for i, b in enumerate(many)])
        s, rc, out, err = self.run(msg)
        probs, det = judge(s, msg, rc, out, err, strict=False)
        if not probs and not det:
            probs.append("nothing detached of 40 attachments")
        report("pipe gen/many-attachments", probs)
        s.cleanup()

        self.failures()
        self.malformed()
        if with_huge:
            self.huge()

    def identical(self, name, msg, min_size="1", **kw):
        s, rc, out, err = self.run(msg, min_size=min_size, **kw)
        probs = []
        if rc != 0:
            probs.append("exit %d (%r)" % (rc, err[:200]))
        elif out != msg:
            probs.append("output differs: %s" % first_diff(msg, out))
        elif os.path.isdir(s.store) and store_files(s.store):
            probs.append("something was stored")
        report("pipe gen/" + name, probs)
        s.cleanup()

    def failures(self):
        blob = self.rand(100000)
        msg = mixed([text_part(), att_part(blob, b"doc.pdf",
                                           b"application/pdf")])
        # A store path under a regular file cannot be written, even by
        # root.
        plain = os.path.join(self.root, "plain-file")
        with open(plain, "w") as f:
            f.write("not a directory\n")
        bad = os.path.join(plain, "store")
        self.identical("store-failure-keep", msg, store=bad)
        s, rc, out, err = self.run(msg, on_fail="tempfail", store=bad)
        probs = []
        if rc != 75:
            probs.append("exit %d, expected 75 (EX_TEMPFAIL)" % rc)
        if b"X-Detach-URL" in out:
            probs.append("a link although nothing was stored")
        report("pipe gen/store-failure-tempfail", probs)
        s.cleanup()
        s, rc, out, err = self.run(msg, on_fail="tempfail",
                                   spool=os.path.join(plain, "spool"))
        report("pipe gen/spool-failure-tempfail",
               [] if rc == 75 else ["exit %d, expected 75" % rc])
        s.cleanup()
        s, rc, out, err = self.run(msg, spool=os.path.join(plain, "spool"))
        probs = []
        if rc == 0 and out != msg:
            probs.append("spool failure under keep changed the message")
        elif rc not in (0, 75):
            probs.append("exit %d" % rc)
        if b"X-Detach-URL" in out:
            probs.append("a link although the spool failed")
        report("pipe gen/spool-failure-keep", probs)
        s.cleanup()

    def malformed(self):
        """Broken input: exit 0, no byte lost outside replaced parts; the
        well-formed attachment next to the damage is still detached
        (must), and what cannot be parsed at all passes byte-identical
        (same)."""
        sha = lambda b: hashlib.sha256(b).hexdigest()
        blob = self.rand(20000)
        att = att_part(blob, b"m.bin")
        cases = []
        # Missing closing boundary.
        m = mixed([text_part(), att])
        cases.append(("missing-close-boundary",
                      m[:m.rindex(b"--=_detach_test_0--")], [], False))
        m = mixed([att, text_part()])
        cases.append(("missing-close-boundary-att-first",
                      m[:m.rindex(b"--=_detach_test_0--")], [], False))
        # multipart without a boundary parameter.
        m = mixed([text_part(), att])
        cases.append(("no-boundary-param",
                      m.replace(b"; boundary=\"=_detach_test_0\"", b"", 1),
                      [], True))
        # Truncated base64: the last quantum cut, and the message ends.
        m = mixed([text_part(), att])
        cases.append(("truncated-base64-eof",
                      m[:m.index(b"Content-Transfer-Encoding: base64") +
                        5000], [], False))
        cut = att_part(blob, b"cut.bin")
        cut = cut[:-3]
        cases.append(("truncated-base64-part",
                      mixed([text_part(), cut, att]), [sha(blob)], False))
        dirty = att_part(blob, b"dirty.bin").replace(b"A", b"A!*", 5)
        cases.append(("dirty-base64", mixed([text_part(), dirty]), [],
                      False))
        # NUL bytes in a header, a text body and an attachment.
        nul = b"\x00" * 3000 + blob
        cases.append(("nul-bytes", mixed(
            [text_part(b"nul\x00in\x00text\r\n"),
             att_part(nul, b"nul.bin"),
             att_part(b"\x00raw\x00", b"n\x00ul.bin", enc="binary")],
            headers=b"X-Nul: a\x00b\r\n"), [sha(nul)], False))
        # Nesting 40 deep with an attachment at depth 2 and at the bottom.
        deep_blob = self.rand(3000)
        inner = att_part(deep_blob, b"deep.bin")
        for i in range(40, 2, -1):
            bnd = b"nest-%d" % i
            inner = (b"Content-Type: multipart/mixed; boundary=\"" + bnd +
                     b"\"\r\n\r\n" + body_of([inner], b"\r\n", bnd)
                     .rstrip(b"\r\n"))
        nest = mixed([text_part(), att, inner])
        cases.append(("nesting-40", nest, [sha(blob)], False))
        # A 100 KB header line, in the message and in a part.
        longv = b"x" * (100 * 1024)
        cases.append(("long-header-line", mixed(
            [text_part(), att], headers=b"X-Long: " + longv + b"\r\n"),
            [sha(blob)], False))
        longct = att_part(blob, b"long.bin",
                          b"application/octet-stream; x-pad=\"" + longv +
                          b"\"")
        cases.append(("long-content-type-line",
                      mixed([text_part(), longct, att]), [sha(blob)], False))
        # Boundary over RFC 2046's 70 characters: not ours to parse.
        cases.append(("boundary-too-long",
                      mixed([text_part(), att], boundary=b"b" * 100), [],
                      True))
        # Epilogue after the closing delimiter, bare CRs in a text part.
        m = mixed([text_part(b"bare\rCR\r\n"), att]) + b"epilogue\r\n"
        cases.append(("epilogue-bare-cr", m, [sha(blob)], False))
        for name, msg, must, same in cases:
            s, rc, out, err = self.run(msg)
            probs, det = judge(s, msg, rc, out, err, strict=False)
            shas = [d.get("sha") for d in det]
            for w in must:
                if w not in shas:
                    probs.append("the well-formed attachment %s... was not "
                                 "detached" % w[:12])
            if same and out != msg:
                probs.append("not byte-identical")
            if name == "nesting-40" and sha(deep_blob) in shas:
                probs.append("an attachment 40 levels deep was detached")
            report("pipe gen/malformed-" + name, probs)
            s.cleanup()

    def huge(self):
        """200 MiB attachment through pipe mode, peak RSS bounded."""
        s = Setup(self.root, min_size="100k")
        size = 200 * 1024 * 1024
        script = r'''
set -e
{ printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n'
  printf 'MIME-Version: 1.0\r\n'
  printf 'Content-Type: multipart/mixed; boundary="big-1"\r\n\r\n'
  printf -- '--big-1\r\nContent-Type: text/plain\r\n\r\nBig file.\r\n'
  printf -- '--big-1\r\nContent-Type: application/octet-stream; name="big.bin"\r\n'
  printf 'Content-Disposition: attachment; filename="big.bin"\r\n'
  printf 'Content-Transfer-Encoding: base64\r\n\r\n'
  head -c %d /dev/urandom | tee "$1/raw" | base64 -w 76
  printf -- '--big-1--\n'
} > "$1/in.eml"
''' % size
        probs = []
        subprocess.run(["bash", "-c", script, "x", s.dir], check=True)
        raw_sha = hashlib.sha256()
        with open(os.path.join(s.dir, "raw"), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                raw_sha.update(chunk)
        os.unlink(os.path.join(s.dir, "raw"))
        want = raw_sha.hexdigest()
        inp = os.path.join(s.dir, "in.eml")
        outp = os.path.join(s.dir, "out.eml")
        with open(inp, "rb") as fi, open(outp, "wb") as fo:
            p = subprocess.run(["/usr/bin/time", "-v", self.detach, "-p",
                                "-c", s.conf], stdin=fi, stdout=fo,
                               stderr=subprocess.PIPE, timeout=300)
        m = re.search(rb"Maximum resident set size \(kbytes\): (\d+)",
                      p.stderr)
        rss = int(m.group(1)) if m else -1
        if p.returncode != 0:
            probs.append("exit %d: %r" % (p.returncode, p.stderr[-300:]))
        elif rss < 0:
            probs.append("no RSS figure from /usr/bin/time")
        elif rss >= RSS_MAX_KB:
            probs.append("peak RSS %d KiB, limit %d" % (rss, RSS_MAX_KB))
        out = open(outp, "rb").read(1 << 20)
        if os.path.getsize(outp) > 1 << 16:
            probs.append("output has %d bytes: not detached" %
                         os.path.getsize(outp))
        else:
            om = parse(out)
            got = [p["X-Detach-SHA256"] for p in om.walk()
                   if p["X-Detach-URL"]]
            if got != [want]:
                probs.append("X-Detach-SHA256 %s, expected %s" % (got, want))
            else:
                url = [p["X-Detach-URL"] for p in om.walk()
                       if p["X-Detach-URL"]][0].strip()
                key = url[len(LINK_BASE):]
                if key[:32] != hmac_hex(s.secret, want):
                    probs.append("key %s not the HMAC" % key[:32])
                obj = os.path.join(s.store, key[:32],
                                   urllib.parse.unquote(key[33:]))
                if not os.path.isfile(obj) or os.path.getsize(obj) != size:
                    probs.append("object %s missing or wrong size" % key)
        print("# 200 MiB attachment: peak RSS %d KiB" % rss, flush=True)
        report("pipe gen/200mib-attachment-rss", probs)
        s.cleanup()


# ---------------------------------------------------------------------
# Options and the configuration checker
# ---------------------------------------------------------------------

def options(detach, root):
    def run(args, data=b""):
        p = subprocess.run([detach] + args, input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        return p.returncode, p.stdout, p.stderr

    s = Setup(root)
    rc, out, err = run(["-t", "-c", s.conf])
    report("pipe opt/check-good-config",
           [] if rc == 0 else ["exit %d: %r" % (rc, err[:200])])

    bads = [
        ("unknown-key", "store = dir:/tmp\nno_such_key = 1\n", 2),
        ("bad-min-size", "# c\n\nmin_size = lots\n", 3),
        ("bad-secret", "secret = 1234\n", 1),
        ("bad-on-failure", "link_base = https://x.example/\n"
                           "on_store_failure = maybe\n", 2),
        ("no-equals", "store dir:/tmp\n", 1),
    ]
    for name, text, line in bads:
        path = os.path.join(s.dir, name + ".conf")
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = run(["-t", "-c", path])
        probs = []
        if rc != 78:
            probs.append("exit %d, expected 78" % rc)
        want = ("%s:%d:" % (path, line)).encode()
        if want not in err:
            probs.append("stderr %r does not name %s" % (err[:200],
                                                        want.decode()))
        report("pipe opt/check-" + name, probs)

    rc, out, err = run(["-n", "-c", s.conf])
    probs = []
    if rc != 0:
        probs.append("exit %d" % rc)
    for key in ("store", "link_base", "min_size", "secret",
                "on_store_failure", "spool_dir"):
        if not re.search(rb"(?m)^" + key.encode() + rb"\s*=", out):
            probs.append("-n does not print %s" % key)
    if SECRET.encode() in out or SECRET.encode() in err:
        probs.append("-n shows the secret")
    if s.store.encode() not in out:
        probs.append("-n does not show the store in effect")
    report("pipe opt/print-settings", probs)

    empty = os.path.join(s.dir, "empty.conf")
    open(empty, "w").close()
    rc, out, err = run(["-n", "-c", empty])
    probs = []
    if rc != 0:
        probs.append("exit %d on an empty file" % rc)
    for key in ("store", "link_base", "min_size", "secret",
                "on_store_failure", "spool_dir"):
        if not re.search(rb"(?m)^" + key.encode() + rb"\s*=", out):
            probs.append("-n does not print the default of %s" % key)
    report("pipe opt/print-defaults", probs)

    rc, out, err = run(["-V"])
    probs = []
    if rc != 0:
        probs.append("exit %d" % rc)
    if not re.search(rb"\d+\.\d+", out + err):
        probs.append("no version number in %r" % (out + err)[:100])
    report("pipe opt/version", probs)

    rc, out, err = run(["-h"])
    probs = []
    if rc != 0:
        probs.append("exit %d" % rc)
    if b"-p" not in out + err or not re.search(rb"(?i)usage", out + err):
        probs.append("no usage naming -p")
    report("pipe opt/help", probs)

    for args in (["-Z"], ["-p", "-c"], ["-p", "extra-operand"]):
        rc, out, err = run(args)
        report("pipe opt/usage-" + "".join(a.strip("-") for a in args)
               .replace("-", ""),
               [] if rc == 64 else ["%s: exit %d, expected 64" % (args, rc)])

    rc, out, err = run(["-p", "-c", os.path.join(s.dir, "nonexistent")],
                       b"Subject: x\r\n\r\nx\r\n")
    report("pipe opt/missing-config",
           [] if rc == 78 else ["exit %d, expected 78" % rc])
    s.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--detach", default=os.path.join(ROOT, "detach"))
    ap.add_argument("--only", default=None)
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    detach = os.path.abspath(a.detach) if os.sep in a.detach else a.detach
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print("# pipecheck: seed %d" % seed, flush=True)
    root = tempfile.mkdtemp(prefix="pipecheck.")
    try:
        want = a.only
        if want in (None, "corpus") or (want and want.startswith("corpus/")):
            for path in corpus_files():
                rel = os.path.relpath(path, CORPUS)
                if want and want.startswith("corpus/") and \
                        want[7:] not in rel:
                    continue
                corpus_case(detach, root, path)
        if want in (None, "gen"):
            Gen(detach, root, seed).all(with_huge=not a.no_big)
        if want in (None, "opt"):
            options(detach, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("# pipecheck: %d passed, %d failed" % (results["pass"],
                                                results["fail"]))
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
