#!/usr/bin/env python3
# faultc.py - an SMTP client that can stop at a stage, and vanish there
#
# Usage: faultc.py PORT FILE SENDER RCPT CTL STAGE ACTION
#
# One session on a plain socket (not smtplib: it must be able to stop
# between any two writes and vanish without QUIT). STAGE is where it
# stops: none, mail (after MAIL's reply), rcpt (after RCPT's reply),
# data (after DATA's 354), mid (half the body sent), body (the whole
# body sent, not the dot), dot (the dot sent, its reply not read). There
# it creates CTL.at and waits (bounded) for CTL.go; then ACTION: go
# carries on, vanish closes the socket without a word. Prints the
# transcript, then one line "result R" where R is the reply code that
# ended the transaction (250 at the dot, or the 4xx/5xx that stopped
# it), "broken" when the connection was lost before a reply, or
# "vanished".

import os
import socket
import sys
import time

WAIT_GO = 60            # seconds the test has to act at a stage
IO_TIMEOUT = 60         # seconds for any reply (Postfix answers sooner)


class Broken(Exception):
    pass


def main():
    port, path, sender, rcpt, ctl, stage, action = sys.argv[1:8]
    data = open(path, "rb").read()
    body = b"".join(b"." + l if l.startswith(b".") else l
                    for l in data.splitlines(True))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    s = socket.create_connection(("127.0.0.1", int(port)),
                                 timeout=IO_TIMEOUT)
    f = s.makefile("rb")

    def say(line):
        print(line, flush=True)

    def reply():
        last = ""
        while True:
            try:
                l = f.readline()
            except OSError as e:
                raise Broken(str(e))
            if not l:
                raise Broken("EOF")
            l = l.decode("latin-1").rstrip("\r\n")
            say("<- " + l)
            last = l
            if len(l) < 4 or l[3] != "-":
                return l[:3], last

    def send(b):
        try:
            s.sendall(b)
        except OSError as e:
            raise Broken(str(e))

    def cmd(c):
        say("-> " + c)
        send(c.encode() + b"\r\n")
        return reply()

    def at(name):
        if stage != name:
            return False
        open(ctl + ".at", "w").close()
        end = time.monotonic() + WAIT_GO
        while not os.path.exists(ctl + ".go") and time.monotonic() < end:
            time.sleep(0.02)
        if action == "vanish":
            say("-- vanished at " + name)
            s.close()
            print("result vanished")
            return True
        return False

    try:
        code, _ = reply()
        if code != "220":
            print("result %s" % code)
            return
        code, _ = cmd("EHLO client.test")
        if code != "250":
            print("result %s" % code)
            return
        for c, want, st in (("MAIL FROM:<%s>" % sender, "250", "mail"),
                            ("RCPT TO:<%s>" % rcpt, "250", "rcpt"),
                            ("DATA", "354", "data")):
            code, _ = cmd(c)
            if code != want:
                print("result %s" % code)
                cmd_quiet_quit(s)
                return
            if at(st):
                return
        half = len(body) // 2
        send(body[:half])
        if at("mid"):
            return
        send(body[half:])
        if at("body"):
            return
        say("-> .")
        send(b".\r\n")
        if at("dot"):
            return
        code, _ = reply()
        print("result %s" % code)
        cmd_quiet_quit(s)
    except Broken as e:
        say("-- broken: %s" % e)
        print("result broken")
    except socket.timeout:
        say("-- timeout")
        print("result broken")


def cmd_quiet_quit(s):
    try:
        s.sendall(b"QUIT\r\n")
        s.settimeout(5)
        s.recv(512)
    except OSError:
        pass
    s.close()


if __name__ == "__main__":
    main()
