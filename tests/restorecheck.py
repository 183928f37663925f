#!/usr/bin/env python3
"""restorecheck.py - judge detach -R (restore) from the outside

Usage: tests/restorecheck.py --detach PATH --conf FILE --name NAME
           --kind dir|http|s3 --where ROOT|URL [--only corpus|cases]

CONF is a detach configuration whose store is up. For every message
under tests/corpus that `detach -p` changes, `detach -R` must give back
what Python's email package reads in the original: the same tree of
parts, and for every leaf the same content type, file name and decoded
bytes; the bytes outside the restored parts must be the detached
message's bytes outside its link parts, in order. A message that
detach -p leaves alone must come out of detach -R unchanged.

The cases (--only cases) alter the store behind detach's back: an object
with one byte changed, one deleted, one a byte longer: exit 65 and
nothing on stdout; a link part whose URL is not under link_base: left as
it is. ROOT is the directory the store keeps its objects in (dir store,
nginx's root), URL the S3 prefix, changed with curl's own SigV4.

Prints "ok NAME" or "FAIL NAME: why" lines, as tests/run.sh counts them.
"""

import argparse
import base64
import binascii
import email
import email.message
import email.policy
import hashlib
import os
import re
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pipecheck  # noqa: E402  corpus_files, find_link_ranges, match_gaps

def report(name, problems):
    pipecheck.report(name, problems)


def conf_value(conf, key):
    for line in open(conf):
        m = re.match(r"\s*%s\s*=\s*(.*?)\s*$" % re.escape(key), line)
        if m:
            return m.group(1)
    return None


def run(detach, mode, conf, data, timeout=300):
    p = subprocess.run([detach, mode, "-c", conf], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def parse(data):
    return pipecheck.parse(data)


def decoded(part):
    """A leaf's bytes, decoded by the book (RFC 2045 6.7, 6.8), whatever
    white space surrounds its Content-Transfer-Encoding."""
    cte = pipecheck.cte_of(part)
    if cte in ("base64", "quoted-printable"):
        raw = part.get_payload(decode=False)
        if isinstance(raw, str):
            try:
                raw = raw.encode("ascii", "surrogateescape")
            except UnicodeEncodeError:
                return part.get_payload(decode=True)
        if cte == "base64":
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", raw))
        return binascii.a2b_qp(raw)
    return part.get_payload(decode=True)


def leaf(part):
    """(content type, file name, decoded bytes) of a leaf."""
    return (part.get_content_type(), pipecheck.part_name(part),
            decoded(part))


def leaves(msg):
    """Every leaf in order; multiparts and message/rfc822 walked into."""
    return [leaf(p) for p, _ in pipecheck.walk(msg)
            if not (p.is_multipart() and pipecheck.is_container(p))]


def link_urls(data, base):
    msg = parse(data)
    return [str(p["X-Detach-URL"]).strip() for p in msg.walk()
            if p["X-Detach-URL"] is not None
            and str(p["X-Detach-URL"]).strip().startswith(base)]


def compare(what, x, y):
    probs = []
    if x[0] != y[0]:
        probs.append("%s: type %s, restored %s" % (what, x[0], y[0]))
    if x[1] != y[1]:
        probs.append("%s: name %r, restored %r" % (what, x[1], y[1]))
    if x[2] != y[2]:
        probs.append("%s (%s): decoded bytes differ (%s)" % (
            what, x[1], pipecheck.first_diff(x[2] or b"", y[2] or b"")))
    return probs


def lines(what, link, part):
    """RFC 2045 6.8: base64 in lines of 76 characters (the last one
    shorter), ending as the link part's lines did, no EOL after the
    last; the header says base64."""
    eol = b"\r\n" if b"\r\n" in link else b"\n"
    sep = part.find(eol + eol)
    if sep < 0:
        return ["%s: no blank line after the header" % what]
    head, body = part[:sep], part[sep + 2 * len(eol):]
    if not re.search(rb"(?mi)^Content-Transfer-Encoding: base64\r?$", head):
        return ["%s: not base64" % what]
    if eol == b"\n" and b"\r" in part:
        return ["%s: CR in a part of a LF message" % what]
    rows = body.split(eol)
    if any(len(r) != 76 for r in rows[:-1]) or len(rows[-1]) > 76 \
            or not re.fullmatch(rb"[A-Za-z0-9+/=]*", b"".join(rows)):
        return ["%s: base64 lines not of 76 characters (%s)" % (
            what, sorted(set(len(r) for r in rows))[:5])]
    return []


def judge(orig, det, rc, out, err, base):
    """Problems of one restore of det (made by detach -p from orig).

    Each part detach replaced, read alone from the original, and the
    part given back in its place, read alone from the output, must
    agree; the bytes around them must be the detached message's bytes
    around its link parts. Where Python reads the whole original
    without a defect, the whole trees must agree too."""
    probs = []
    if rc != 0:
        return ["exit %d (stderr %r)" % (rc, err[:300])]
    left = link_urls(out, base)
    if left:
        probs.append("%d link parts left: %s" % (len(left), left[0]))
    ranges, why = pipecheck.find_link_ranges(det)
    probs += why
    was, why = pipecheck.match_gaps(orig, det, ranges)
    if why:
        return probs + ["detached message: " + why]
    back, why = pipecheck.match_gaps(out, det, ranges)
    if why:
        return probs + ["outside the restored parts: " + why]
    for i, ((a, b), (c, d)) in enumerate(zip(was, back)):
        probs += compare("part %d" % i, leaf(parse(orig[a:b])),
                         leaf(parse(out[c:d])))
        probs += lines("part %d" % i, det[ranges[i][0]:ranges[i][1]],
                       out[c:d])
    whole = parse(orig)
    if any(p.defects for p in whole.walk()):
        return probs
    a, b = leaves(whole), leaves(parse(out))
    if len(a) != len(b):
        return probs + ["%d leaves in the original, %d restored" % (
            len(a), len(b))]
    for i, (x, y) in enumerate(zip(a, b)):
        probs += compare("leaf %d" % i, x, y)
    return probs


def corpus(a, base):
    changed = same = 0
    for path in pipecheck.corpus_files():
        rel = os.path.relpath(path, pipecheck.CORPUS)
        orig = open(path, "rb").read()
        rc, det, err = run(a.detach, "-p", a.conf, orig)
        name = "restore %s corpus/%s" % (a.name, rel)
        if rc != 0:
            report(name, ["detach -p exit %d: %r" % (rc, err[:200])])
            continue
        rc, out, err = run(a.detach, "-R", a.conf, det)
        if det == orig:
            same += 1
            if rc != 0 or out != orig:
                report(name, ["nothing detached, yet -R gave exit %d and "
                              "%s" % (rc, pipecheck.first_diff(orig, out))])
            continue
        changed += 1
        report(name, judge(orig, det, rc, out, err, base))
    report("restore %s corpus: %d messages changed by -p, %d not" % (
        a.name, changed, same), [] if changed >= 20 else
        ["only %d corpus messages had something detached" % changed])


# ---------------------------------------------------------------------
# Altering the store behind detach's back
# ---------------------------------------------------------------------

class Store:
    def __init__(self, kind, where, base):
        self.kind, self.where, self.base = kind, where, base

    def key(self, url):
        return url[len(self.base):]

    def path(self, url):
        k = self.key(url)
        return os.path.join(self.where, k[:32], urllib.parse.unquote(k[33:]))

    def s3(self, method, url, body=None):
        cmd = ["curl", "-sf", "-X", method, "--aws-sigv4",
               "aws:amz:us-east-1:s3", "--user", "S3RVER:S3RVER",
               "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
               self.where.rstrip("/") + "/" + self.key(url)]
        if body is not None:
            cmd[1:1] = ["--data-binary", "@-"]
        subprocess.run(cmd, input=body, check=True, stdout=subprocess.PIPE)

    def read(self, url):
        if self.kind == "s3":
            p = subprocess.run(["curl", "-sf", self.where.rstrip("/") + "/" +
                                self.key(url)], stdout=subprocess.PIPE,
                               check=True)
            return p.stdout
        return open(self.path(url), "rb").read()

    def write(self, url, data):
        if self.kind == "s3":
            self.s3("PUT", url, data)
            return
        with open(self.path(url), "wb") as f:
            f.write(data)

    def delete(self, url):
        if self.kind == "s3":
            self.s3("DELETE", url)
        else:
            os.unlink(self.path(url))


def make_message(blob, small):
    m = email.message.EmailMessage()
    m["From"] = "a@example.org"
    m["To"] = "b@example.org"
    m["Subject"] = "restore cases"
    m.set_content("two files attached\n")
    m.add_attachment(blob, maintype="application", subtype="pdf",
                     filename="rapport \u00e9t\u00e9 2026.pdf")
    m.add_attachment(small, maintype="text", subtype="csv",
                     filename="numbers.csv")
    return m.as_bytes(policy=email.policy.SMTP)


FOREIGN = (b"--%s\r\nContent-Type: text/plain; charset=utf-8; size=5\r\n"
           b"Content-Disposition: inline\r\n"
           b"X-Detach-URL: https://elsewhere.example/a/0123456789abcdef"
           b"0123456789abcdef/x.bin\r\n"
           b"X-Detach-SHA256: " + b"0" * 64 + b"\r\n"
           b"X-Detach-Size: 5\r\n\r\nAttachment: x.bin\r\n")


def cases(a, base):
    st = Store(a.kind, a.where, base)
    blob = os.urandom(300 * 1000 + 7)
    small = b"1,2,3\r\n" * 4000
    orig = make_message(blob, small)
    rc, det, err = run(a.detach, "-p", a.conf, orig)
    urls = link_urls(det, base)
    if rc != 0 or len(urls) != 2:
        report("restore %s cases: setup" % a.name,
               ["detach -p exit %d, %d links: %r" % (rc, len(urls),
                                                     err[:200])])
        return
    rc, out, err = run(a.detach, "-R", a.conf, det)
    report("restore %s cases: both attachments back" % a.name,
           judge(orig, det, rc, out, err, base))
    # LF line endings throughout: the restored part follows them
    lf = orig.replace(b"\r\n", b"\n")
    rc, detlf, err = run(a.detach, "-p", a.conf, lf)
    rc, out, err = run(a.detach, "-R", a.conf, detlf)
    probs = judge(lf, detlf, rc, out, err, base)
    if b"\r" in out:
        probs.append("a CR in the restored LF message")
    report("restore %s cases: LF message comes back in LF" % a.name, probs)

    # a link part of an older detach: no kept fields, no X-Detach-Size,
    # the size as a size= parameter of its Content-Type
    lines = det.split(b"\r\n")
    ct = None
    for i, l in enumerate(lines):
        if l.lower().startswith(b"content-type:"):
            ct = i
        m = re.match(rb"X-Detach-Size: *([0-9]+)", l)
        if m and ct is not None:
            lines[ct] += b"; size=" + m.group(1)
    old = re.sub(rb"(?m)^X-Detach-(Content-Type|Content-Disposition|Size):"
                 rb".*\r\n", b"", b"\r\n".join(lines))
    rc, out, err = run(a.detach, "-R", a.conf, old)
    probs = []
    if rc != 0:
        probs.append("exit %d (%r)" % (rc, err[:300]))
    else:
        got = [leaf(p) for p in parse(out).walk() if not p.is_multipart()]
        want = [("application/octet-stream",
                 "rapport \u00e9t\u00e9 2026.pdf", blob),
                ("application/octet-stream", "numbers.csv", small)]
        if got[1:] != want:
            probs.append("restored %r" % [(t, n, len(b or b""))
                                          for t, n, b in got])
        if not re.search(rb"(?m)^Content-Disposition: attachment;", out):
            probs.append("no Content-Disposition: attachment")
    report("restore %s cases: older link part: octet-stream, name from "
           "the URL, size from size=" % a.name, probs)

    good = st.read(urls[0])
    if hashlib.sha256(good).digest() != hashlib.sha256(blob).digest():
        report("restore %s cases: object on the store" % a.name,
               ["the store does not hold the attachment's bytes"])
        return

    def refused(what, want=65):
        rc, out, err = run(a.detach, "-R", a.conf, det)
        probs = []
        if rc != want:
            probs.append("exit %d, expected %d (%r)" % (rc, want, err[:300]))
        if out:
            probs.append("%d bytes on stdout" % len(out))
        if urls[0].encode() not in err:
            probs.append("stderr %r does not name the URL" % err[:300])
        report("restore %s cases: %s" % (a.name, what), probs)

    altered = bytearray(good)
    altered[len(altered) // 2] ^= 0x20
    st.write(urls[0], bytes(altered))
    refused("one byte changed: exit 65, nothing written")
    st.write(urls[0], good + b"x")
    refused("one byte more: exit 65, nothing written")
    st.write(urls[0], good[:-1])
    refused("one byte less: exit 65, nothing written")
    st.delete(urls[0])
    refused("object deleted: exit 65, nothing written")
    st.write(urls[0], good)

    # a link part under another base is not ours: left as it is
    b = re.search(rb'boundary="([^"]+)"', det).group(1)
    last = det.rindex(b"--" + b + b"--")
    det2 = det[:last] + FOREIGN % b + det[last:]
    rc, out, err = run(a.detach, "-R", a.conf, det2)
    probs = []
    if rc != 0:
        probs.append("exit %d (%r)" % (rc, err[:300]))
    elif (FOREIGN % b) not in out:
        probs.append("the foreign link part is not there byte for byte")
    else:
        probs += judge(orig, det, 0, out.replace(FOREIGN % b, b""), err,
                       base)
    report("restore %s cases: a link under another base is left as it is"
           % a.name, probs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--detach", required=True)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--kind", required=True, choices=("dir", "http", "s3"))
    ap.add_argument("--where", required=True)
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    base = conf_value(a.conf, "link_base")
    if a.only in (None, "corpus"):
        corpus(a, base)
    if a.only in (None, "cases"):
        cases(a, base)
    return 1 if pipecheck.results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
