#!/usr/bin/env python3
# faultgate.py - an HTTP relay in front of the store that can hold a PUT
#
# Usage: faultgate.py PORT UPSTREAM_PORT DIR
#
# Relays HTTP/1.1 requests on 127.0.0.1:PORT to 127.0.0.1:UPSTREAM_PORT
# (nginx), keep-alive, bodies by Content-Length. It makes an upload
# slow in a way the test controls, so a fault can be aimed at it: when
# DIR/hold exists as a PUT starts, the file is taken (renamed, so the
# next PUT passes straight) and its word says where the PUT stops:
#	body	half the body has gone to the store; the rest is read
#		from detach but not passed on
#	resp	the whole body went and the store answered (the object is
#		stored); the answer is not passed back to detach yet
# There DIR/at is created and the relay waits, bounded, for DIR/go or
# for detach to go away; if detach goes, the store's connection is
# closed as it stands (a PUT held at "body" is then cut short, as on a
# lost network). Each PUT held is logged to DIR/gate.log.

import os
import select
import socket
import sys
import threading
import time

HOLD_MAX = 60           # seconds a held PUT waits for go


def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    i = buf.index(b"\r\n\r\n") + 4
    return buf[:i], buf[i:]


def clen(head):
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return 0


def read_body(sock, buf, n):
    while len(buf) < n:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    return buf[:n], buf[n:]


def log(d, text):
    with open(os.path.join(d, "gate.log"), "a") as f:
        f.write(text + "\n")


def hold(d, c):
    """Wait for DIR/go; keep reading what detach sends. Returns what it
    sent meanwhile, or None when it went away."""
    open(os.path.join(d, "at"), "w").close()
    extra = b""
    end = time.monotonic() + HOLD_MAX
    while not os.path.exists(os.path.join(d, "go")):
        if time.monotonic() > end:
            break
        r, _, _ = select.select([c], [], [], 0.02)
        if r:
            try:
                x = c.recv(65536)
            except OSError:
                x = b""
            if not x:
                return None
            extra += x
    return extra


def serve(c, up_port, d):
    up = None
    cbuf = b""
    ubuf = b""
    try:
        while True:
            head, cbuf = read_head(c, cbuf)
            if head is None:
                return
            method = head.split(b" ", 1)[0]
            n = clen(head) if method in (b"PUT", b"POST") else 0
            mode = None
            if method == b"PUT":
                try:
                    os.rename(os.path.join(d, "hold"),
                              os.path.join(d, "hold.taken"))
                    mode = open(os.path.join(d, "hold.taken")).read().strip()
                    log(d, "hold %s %s" % (mode, head.split(b" ")[1].decode()))
                except OSError:
                    pass
            if up is None:
                up = socket.create_connection(("127.0.0.1", up_port))
            up.sendall(head)
            sent = 0
            if mode == "body":
                first, cbuf = read_body(c, cbuf, n // 2)
                if first is None:
                    return
                up.sendall(first)
                sent = n // 2
                extra = hold(d, c)
                if extra is None:
                    log(d, "detach went away mid-body")
                    return
                cbuf += extra
            body, cbuf = read_body(c, cbuf, n - sent)
            if body is None:
                return
            up.sendall(body)
            rhead, ubuf = read_head(up, ubuf)
            if rhead is None:
                return
            status = rhead.split(b" ", 2)[1]
            rn = 0 if method == b"HEAD" or status in (b"204", b"304") \
                else clen(rhead)
            rbody, ubuf = read_body(up, ubuf, rn)
            if rbody is None:
                return
            if mode == "resp":
                extra = hold(d, c)
                if extra is None:
                    log(d, "detach went away before the answer")
                    return
                cbuf += extra
            c.sendall(rhead + rbody)
    except OSError:
        pass
    finally:
        c.close()
        if up is not None:
            up.close()


def main():
    port, up_port, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, up_port, d),
                         daemon=True).start()


if __name__ == "__main__":
    main()
