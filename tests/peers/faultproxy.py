#!/usr/bin/env python3
# faultproxy.py - a TCP proxy in front of a store that fails on demand
#
# Usage: faultproxy.py [--raw] LISTEN_PORT UPSTREAM_PORT CTL LOG
#
# Listens on 127.0.0.1:LISTEN_PORT and forwards to 127.0.0.1:UPSTREAM_PORT.
# The mode is the first word of the file CTL, read again every 20 ms;
# once a mode is in force the proxy writes it to CTL.ack (whole, by a
# rename), so a test that writes CTL waits for CTL.ack to say the same.
# Modes:
#	pass		forward the bytes both ways
#	refuse		close the listener (connect: refused) and every
#			connection already open (a pooled one sees EOF)
#	hang		accept, read, never answer nor forward
#	500once		answer the next PUT "HTTP/1.1 500" itself (its body
#			read first), close, then go back to pass
#	reset		forward the headers and half the body of each PUT,
#			then reset the connection (SO_LINGER 0)
#	resetonce	the same for the next PUT, then back to pass
# Without --raw the proxy reads the requests (HTTP/1.1, Content-Length
# bodies) to act per request, also on a kept-alive connection; with
# --raw (a TLS store) it sees bytes only and knows pass, refuse, hang.
# A mode that goes back to pass writes "pass" to CTL itself.
#
# LOG gets one line per event: "N accept", "N METHOD PATH pass",
# "N PUT PATH 500", "N PUT PATH reset after B of L", "N hang",
# "N upstream refused".

import os
import socket
import struct
import sys
import threading
import time

RAW = sys.argv[1] == "--raw"
args = sys.argv[2:] if RAW else sys.argv[1:]
LPORT, UPORT, CTL, LOG = int(args[0]), int(args[1]), args[2], args[3]

lock = threading.Lock()
mode = "pass"
conns = set()
seq = 0
logf = open(LOG, "a", buffering=1)


def log(line):
    with lock:
        logf.write(line + "\n")


def ack(m):
    tmp = CTL + ".ack.tmp"
    with open(tmp, "w") as f:
        f.write(m + "\n")
    os.rename(tmp, CTL + ".ack")


def read_ctl():
    try:
        with open(CTL) as f:
            w = f.read().split()
        return w[0] if w else "pass"
    except FileNotFoundError:
        return "pass"


def consume(m):
    """A one-shot mode was used: back to pass, in CTL too."""
    global mode
    with lock:
        if mode != m:
            return False
        mode = "pass"
    tmp = CTL + ".tmp"
    with open(tmp, "w") as f:
        f.write("pass\n")
    os.rename(tmp, CTL)
    return True


def close(s, rst=False):
    if s is None:
        return
    try:
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        else:
            s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
    with lock:
        conns.discard(s)


def track(s):
    with lock:
        conns.add(s)


def pump_back(up, c):
    """Upstream to client, bytes as they come; close both at the end."""
    try:
        while True:
            d = up.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    close(c)
    close(up)


def connect_up(n, c):
    try:
        up = socket.create_connection(("127.0.0.1", UPORT), timeout=10)
    except OSError as e:
        log("%d upstream refused: %s" % (n, e))
        close(c)
        return None
    up.settimeout(None)
    track(up)
    threading.Thread(target=pump_back, args=(up, c), daemon=True).start()
    return up


def drain(n, c, up=None):
    """hang: take what comes, answer nothing, until the peer leaves.
    An upstream connection stays open meanwhile: closed, its pump would
    close ours, and the client would see a close instead of silence."""
    log("%d hang" % n)
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
    close(c)
    close(up)


def handle_raw(n, c):
    if mode == "hang":
        return drain(n, c)
    up = connect_up(n, c)
    if up is None:
        return
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            if mode == "hang":
                return drain(n, c, up)
            up.sendall(d)
    except OSError:
        pass
    close(up)
    close(c)


def handle_http(n, c):
    up = None
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    close(c)
                    close(up)
                    return
                buf += d
            i = buf.index(b"\r\n\r\n") + 4
            head, buf = buf[:i], buf[i:]
            lines = head.decode("latin-1").split("\r\n")
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            clen = 0
            for l in lines[1:]:
                k, _, v = l.partition(":")
                if k.strip().lower() == "content-length":
                    clen = int(v.strip())
            m = mode
            if m == "hang":
                return drain(n, c, up)
            if method == "PUT" and m == "500once" and consume(m):
                while len(buf) < clen:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                body = b"injected failure\r\n"
                c.sendall(b"HTTP/1.1 500 Internal Server Error\r\n"
                          b"Content-Type: text/plain\r\n"
                          b"Content-Length: %d\r\n"
                          b"Connection: close\r\n\r\n" % len(body) + body)
                log("%d PUT %s 500" % (n, path))
                close(c)
                close(up)
                return
            if up is None and (up := connect_up(n, c)) is None:
                return
            if method == "PUT" and m in ("reset", "resetonce") and \
                    (m == "reset" or consume(m)):
                half = clen // 2
                up.sendall(head)
                sent = 0
                while sent < half:
                    if not buf:
                        buf = c.recv(65536)
                        if not buf:
                            break
                    k = min(len(buf), half - sent)
                    up.sendall(buf[:k])
                    buf = buf[k:]
                    sent += k
                log("%d PUT %s reset after %d of %d" % (n, path, sent, clen))
                close(c, rst=True)
                close(up, rst=True)
                return
            log("%d %s %s pass" % (n, method, path))
            up.sendall(head)
            left = clen
            while left > 0:
                if not buf:
                    buf = c.recv(65536)
                    if not buf:
                        raise OSError("client gone in a body")
                k = min(len(buf), left)
                up.sendall(buf[:k])
                buf = buf[k:]
                left -= k
    except OSError:
        pass
    close(c)
    close(up)


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", LPORT))
    s.listen(64)
    s.settimeout(0.02)
    return s


def main():
    global mode, seq
    ls = listen()
    ack(mode)
    while True:
        want = read_ctl()
        if want != mode:
            with lock:
                mode = want
                old = list(conns) if want == "refuse" else []
            if want == "refuse":
                ls.close()
                ls = None
                for s in old:
                    close(s)
            elif ls is None:
                ls = listen()
            ack(want)
        if ls is None:
            time.sleep(0.02)
            continue
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(None)
        seq += 1
        track(c)
        log("%d accept" % seq)
        fn = handle_raw if RAW else handle_http
        threading.Thread(target=fn, args=(seq, c), daemon=True).start()


if __name__ == "__main__":
    main()
