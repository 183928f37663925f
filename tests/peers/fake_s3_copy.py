#!/usr/bin/env python3
"""fake_s3_copy.py - an S3 peer whose copies fail with 200 and <Error>

Usage: fake_s3_copy.py PORT REPORT SECRET

Answers HEAD with 200 and Content-Length 200000 (the object is there),
a PUT with x-amz-copy-source (CopyObject) with 200 and an <Error> body,
as AWS does for a copy that fails once started, and any other PUT with
200. Prints each request's method ("PUT copy" for a copy) on stdout.
For the copy it writes REPORT: whether its AWS Signature Version 4,
computed here with hmac and hashlib, matches; whether x-amz-copy-source
names the request's own path under /bkt; the metadata directive, the
signed headers, the payload hash, the body length, Content-Type and
whether Content-Disposition carries a filename*.
"""
import hashlib
import hmac
import socket
import sys


def sigv4_ok(method, path, hdrs, secret):
    auth = hdrs["authorization"]
    cred = auth.split("Credential=")[1].split(",")[0]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    sig = auth.split("Signature=")[1].strip()
    date, region, service = cred.split("/")[1:4]
    creq = "\n".join([method, path, ""]
                     + [h + ":" + " ".join(hdrs[h].split()) for h in signed]
                     + ["", ";".join(signed), hdrs["x-amz-content-sha256"]])
    sts = "\n".join(["AWS4-HMAC-SHA256", hdrs["x-amz-date"],
                     "/".join([date, region, service, "aws4_request"]),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return want == sig, signed


def main():
    port, report, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(5)
    ls.settimeout(60)
    err = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
           b'InternalError</Code><Message>We encountered an internal '
           b'error. Please try again.</Message></Error>')
    while True:
        c, _ = ls.accept()
        f = c.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                break
            method, path = line.split()[0].decode(), line.split()[1].decode()
            hdrs = {}
            while True:
                h = f.readline()
                if h in (b"\r\n", b""):
                    break
                k, v = h.decode().split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
            n = int(hdrs.get("content-length", "0"))
            if method == "PUT":
                f.read(n)
            copy = "x-amz-copy-source" in hdrs
            print(method + (" copy" if copy else ""), flush=True)
            if method == "HEAD":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n")
            elif copy:
                ok, signed = sigv4_ok(method, path, hdrs, secret)
                with open(report, "w") as out:
                    print("signature", "good" if ok else "bad", file=out)
                    print("source", hdrs["x-amz-copy-source"] == path,
                          file=out)
                    print("directive", hdrs.get("x-amz-metadata-directive"),
                          file=out)
                    print("signed", ";".join(signed), file=out)
                    print("payload", hdrs["x-amz-content-sha256"], file=out)
                    print("length", n, file=out)
                    print("type", hdrs.get("content-type"), file=out)
                    print("disposition", "filename*=" in
                          hdrs.get("content-disposition", ""), file=out)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                          % len(err) + err)
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        c.close()


main()
