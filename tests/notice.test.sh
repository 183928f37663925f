#!/bin/bash
# notice.test.sh - the link part's notice, judged from the outside
#
# Pipe mode, no network. Python's email package decodes the link parts
# detach writes; the texts they must decode to are written here from
# the specification (labels, French typography, decimal comma and
# units, dates in UTC), the link computed with hmac and hashlib, the
# dates checked against the clock read around the run. Then a template
# (notice_file) end to end, a bad one refused with its FILE:LINE, and
# the budget: every link part of the corpus, in French with an expiry,
# under 1024 bytes for names of up to 40 characters in Latin script.
cd "$(dirname "$0")/.." || exit 1
if [ ! -x ./detach ]; then
	echo "FAIL notice: ./detach is not built"
	exit 1
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/store" "$T/spool"

exec python3 - "$T" <<'PY'
import base64, datetime, email, email.policy, email.utils, hashlib, hmac
import os, subprocess, sys, time, urllib.parse

sys.path.insert(0, "tests")
from pipecheck import find_link_ranges, corpus_files

T = sys.argv[1]
SECRET = "%064d" % 7
BASE = "https://files.example.org/a/"
failed = 0


def ok(cond, name, why=""):
    global failed
    if cond:
        print("ok notice " + name, flush=True)
    else:
        failed += 1
        print(("FAIL notice %s: %s" % (name, why)).replace("\n", "\\n"),
              flush=True)


def conf(extra, min_size="1"):
    path = os.path.join(T, "detach.conf")
    with open(path, "w") as f:
        f.write("store = dir:%s/store\nlink_base = %s\nmin_size = %s\n"
                "secret = %s\nspool_dir = %s/spool\n%s" % (
                    T, BASE, min_size, SECRET, T, extra))
    return path


def run(c, msg):
    t0 = int(time.time())
    p = subprocess.run(["./detach", "-p", "-c", c], input=msg,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr, t0, int(time.time())


def expires(part):
    """X-Detach-Expires as a date, or None when absent or not RFC 5322."""
    try:
        return email.utils.parsedate_to_datetime(str(part["X-Detach-Expires"]))
    except (TypeError, ValueError):
        return None


def link_of(data, name):
    """The link by the specification: link_base, 32 hex digits of
    HMAC-SHA256(secret, SHA-256(file)), '/', the name percent-encoded
    (RFC 3986 unreserved characters kept)."""
    d = hashlib.sha256(data).digest()
    k = hmac.new(bytes.fromhex(SECRET), d, hashlib.sha256).hexdigest()[:32]
    return BASE + k + "/" + urllib.parse.quote(name, safe="-._~")


def message(data, name, ctype="application/pdf"):
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    n = name.encode()
    return (b"From: a@example.org\r\nTo: b@example.org\r\n"
            b"Subject: notice\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"nt-1\"\r\n\r\n"
            b"--nt-1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
            b"--nt-1\r\nContent-Type: " + ctype.encode() +
            b"; name=\"" + n + b"\"\r\n"
            b"Content-Disposition: attachment; filename=\"" + n + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 +
            b"--nt-1--\r\n")


def link_parts(out):
    m = email.message_from_bytes(out, policy=email.policy.default)
    return [p for p in m.walk() if p["X-Detach-URL"] is not None]


def text(part):
    """The decoded text, its line ends as "\n" (the message's CRLF are
    transport)."""
    return part.get_content().replace("\r\n", "\n")


# French and English words for dates, from the languages themselves.
MOIS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet",
        "août", "septembre", "octobre", "novembre", "décembre"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
NBSP = "\u00a0"

# 1. French, 30 days: the decoded text, written here by hand.
data = os.urandom(1536000)
name = "devis 2026 été.pdf"
rc, out, err, t0, t1 = run(conf("notice_lang = fr\nexpire = 30d\n"),
                           message(data, name))
parts = link_parts(out) if rc == 0 else []
ok(rc == 0 and len(parts) == 1, "fr: one link part", "rc %d, %d parts, %s"
   % (rc, len(parts), err.decode(errors="replace")))
if parts:
    p = parts[0]
    exp = expires(p)
    ok(exp is not None, "fr: X-Detach-Expires is an RFC 5322 date",
       str(p["X-Detach-Expires"]))
    exp = exp or datetime.datetime.fromtimestamp(0, datetime.timezone.utc)
    e = int(exp.timestamp())
    ok(exp.utcoffset() == datetime.timedelta(0) and
       t0 + 30 * 86400 <= e <= t1 + 30 * 86400,
       "fr: X-Detach-Expires is now + 30 days, UTC",
       "%s, run from %d to %d" % (p["X-Detach-Expires"], t0, t1))
    u = exp.astimezone(datetime.timezone.utc)
    day = "1er" if u.day == 1 else str(u.day)
    url = link_of(data, name)
    until = "%s %s %d à %d h %02d UTC" % (day, MOIS[u.month - 1],
                                            u.year, u.hour, u.minute)
    want = ("Pièce jointe" + NBSP + ": " + name + "\n" +
            "Taille" + NBSP + ": 1,5 Mo\n" +
            "Disponible jusqu'au " + until + "\n" +
            "Télécharger" + NBSP + ": " + url + "\n")
    got = text(p)
    ok(got.rstrip("\n") == want.rstrip("\n"), "fr: decoded text",
       "got %r, want %r" % (got, want))
    ok(p.get_content_type() == "text/plain" and
       p.get_content_charset() == "utf-8" and
       p["Content-Transfer-Encoding"] == "quoted-printable",
       "fr: text/plain, utf-8, quoted-printable")
    ok(str(p["X-Detach-URL"]) == url, "fr: X-Detach-URL is the link")
    head = out[find_link_ranges(out)[0][0][0]:].split(b"\r\n\r\n")[0]
    ok(all(c < 0x80 for c in head.replace(name.encode(), b"")),
       "fr: headers are ASCII but the sender's name")

# 2. English, 12 weeks: the date as an English reader writes it.
data = os.urandom(5000)
name = "report.pdf"
rc, out, err, t0, t1 = run(conf("expire = 12w\n"), message(data, name))
parts = link_parts(out) if rc == 0 else []
if parts:
    p = parts[0]
    u = expires(p) or datetime.datetime.fromtimestamp(
        0, datetime.timezone.utc)
    e = int(u.timestamp())
    want = ("Attachment: report.pdf\nSize: 5.0 kB\n" +
            "Available until: %d %s %d, %02d:%02d UTC\n" % (
                u.day, MONTHS[u.month - 1], u.year, u.hour, u.minute) +
            "Download: " + link_of(data, name) + "\n")
    got = text(p)
    ok(t0 + 84 * 86400 <= e <= t1 + 84 * 86400 and
       got.rstrip("\n") == want.rstrip("\n") and
       p["Content-Transfer-Encoding"] == "7bit",
       "en: decoded text with the expiry", "got %r, want %r" % (got, want))
else:
    ok(False, "en: decoded text with the expiry", "rc %d" % rc)

# 3. notice_file: the host's words, UTF-8, every placeholder.
tmpl = os.path.join(T, "notice.txt")
with open(tmpl, "w", encoding="utf-8") as f:
    f.write("Ce message contenait « {name} » ({size}, {type}).\n"
            "Lien : {url}\n"
            "Expire le {expires}.\n"
            "Accolades : {{ok}}\n")
data = os.urandom(2048)
name = "plan.png"
c = conf("notice_lang = fr\nnotice_file = %s\n" % tmpl)
rc, out, err, t0, t1 = run(c, message(data, name, "image/png"))
parts = link_parts(out) if rc == 0 else []
want = ("Ce message contenait « plan.png » (2,0 ko, image/png).\n" +
        "Lien : " + link_of(data, name) + "\nAccolades : {ok}\n")
ok(len(parts) == 1 and text(parts[0]).rstrip("\n") ==
   want.rstrip("\n") and parts[0]["X-Detach-Expires"] is None,
   "notice_file: the template, its expiry line gone",
   "rc %d, %r" % (rc, text(parts[0]) if parts else err))

# 4. A bad template: detach -t and detach -p refuse it, naming FILE:LINE.
with open(tmpl, "w") as f:
    f.write("Lien : {url}\n\nNom : {nom}\n")
for args in (["-t"], ["-p"]):
    p = subprocess.run(["./detach"] + args + ["-c", c], input=b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    e = p.stderr.decode(errors="replace")
    ok(p.returncode == 78 and (tmpl + ":3: unknown placeholder") in e
       and "notice_file" in e, "detach %s: bad template refused" % args[0],
       "rc %d: %s" % (p.returncode, e))
os.unlink(tmpl)
p = subprocess.run(["./detach", "-t", "-c", c], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
ok(p.returncode == 78 and b"No such file" in p.stderr,
   "detach -t: missing template refused", p.stderr.decode())

# 5. The budget over the corpus, in French with an expiry (the longest
# notice): each link part's bytes, first header line to its end.
c = conf("notice_lang = fr\nexpire = 3650d\n")
worst, n40, over, others = 0, 0, [], []
for path in corpus_files():
    with open(path, "rb") as f:
        msg = f.read()
    rc, out, err, t0, t1 = run(c, msg)
    if rc != 0:
        over.append("%s: exit %d" % (path, rc))
        continue
    ranges, probs = find_link_ranges(out)
    for a, b in ranges:
        lp = out[a:b]
        m = email.message_from_bytes(lp, policy=email.policy.default)
        url = str(m["X-Detach-URL"])
        nm = urllib.parse.unquote(url.rsplit("/", 1)[1])
        if len(nm) > 40:
            continue
        if any(ord(ch) > 0x24f for ch in nm):
            others.append("%s %r %d" % (os.path.basename(path), nm, len(lp)))
            continue
        n40 += 1
        worst = max(worst, len(lp))
        if len(lp) >= 1024:
            over.append("%s %r: %d bytes" % (path, nm, len(lp)))
print("# %d link parts with names of up to 40 characters, the largest "
      "%d bytes" % (n40, worst))
for o in others:
    print("# not Latin script, not held to the budget: " + o)
ok(n40 > 20 and not over, "corpus link parts under 1024 bytes (fr, "
   "expire)", "; ".join(over[:5]))
sys.exit(1 if failed else 0)
PY
