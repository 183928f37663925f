# mail.sh - an SMTP client and message helpers for the Postfix tests
# (sourced, with $T a private temporary directory)
#
# $T/smtpc.py PORT SENDER RCPT,RCPT FILE [XCLIENT|- [CUT]]: one session
# on plain sockets, so every byte on the wire is ours; prints one
# "VERB CODE LAST-LINE" line per command. mkmsg builds messages,
# body_of strips what Postfix put on top of a delivered one, one_file
# names a user's message, wait_log waits for detach's log.

# The SMTP client: plain sockets, so every byte on the wire is ours.
cat >"$T/smtpc.py" <<'EOF'
import socket, sys, time

def reply(f):
    lines = []
    while True:
        l = f.readline()
        if not l:
            return lines, "EOF"
        l = l.decode("latin-1").rstrip("\r\n")
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return lines, l[:3]

def session(port, sender, rcpts, data, xclient=None, cut=None, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=120)
    f = s.makefile("rb")
    out = []
    def cmd(c):
        s.sendall(c.encode() + b"\r\n")
        l, code = reply(f)
        out.append((c.split(" ")[0], code, l[-1] if l else ""))
        return code
    reply(f)
    cmd("EHLO client.test")
    if xclient:
        cmd("XCLIENT " + xclient)
        helo = [a[5:] for a in xclient.split() if a.startswith("HELO=")]
        cmd("EHLO " + (helo[0] if helo else "client.test"))
    cmd("MAIL FROM:<%s>" % sender)
    for r in rcpts:
        cmd("RCPT TO:<%s>" % r)
    if cmd("DATA") == "354":
        body = b"".join(b"." + l if l.startswith(b".") else l
                        for l in data.splitlines(True))
        if cut is not None:
            s.sendall(body[:cut])
            s.close()
            return out
        s.sendall(body + b".\r\n")
        l, code = reply(f)
        out.append(("DOT", code, l[-1] if l else ""))
    cmd("QUIT")
    s.close()
    return out

if __name__ == "__main__":
    port, sender, rcpts, path = sys.argv[1:5]
    xclient = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    cut = int(sys.argv[6]) if len(sys.argv) > 6 else None
    data = open(path, "rb").read()
    for verb, code, text in session(int(port), sender, rcpts.split(","),
                                     data, xclient, cut):
        print(verb, code, text)
EOF

# mkmsg OUT [ATTACHMENT [NAME]] - a CRLF message; the attachment base64
mkmsg() {
	python3 - "$@" <<'EOF'
import base64, sys
out = sys.argv[1]
att = sys.argv[2] if len(sys.argv) > 2 else None
name = sys.argv[3] if len(sys.argv) > 3 else "file.bin"
h = ("From: <a@example.org>\r\nTo: <bob@example.test>\r\n"
     "Subject: test %s\r\nDate: Wed, 1 Jan 2025 00:00:00 +0000\r\n"
     "Message-ID: <%s@example.org>\r\nMIME-Version: 1.0\r\n" % (out.split("/")[-1], out.split("/")[-1]))
text = ("Hello.\r\n.leading dot\r\n..two dots\r\n.\r\nthe line above was a lone dot\r\n"
        "token %s\r\n" % out.split("/")[-1])
if att is None:
    m = h + "Content-Type: text/plain\r\n\r\n" + text
else:
    b64 = base64.encodebytes(open(att, "rb").read()).decode().replace("\n", "\r\n")
    m = (h + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
         "Content-Type: text/plain\r\n\r\n" + text + "\r\n--b1\r\n"
         "Content-Type: application/octet-stream\r\n"
         'Content-Disposition: attachment; filename="%s"\r\n'
         "Content-Transfer-Encoding: base64\r\n\r\n" % name + b64 + "--b1--\r\n")
open(out, "wb").write(m.encode())
EOF
}

# body_of FILE - a delivered message less the headers Postfix put on top
body_of() {
	awk 'BEGIN { top = 1 }
	    top && /^(Return-Path|X-Original-To|Delivered-To|Received):/ { skip = 1; next }
	    top && skip && /^[ \t]/ { next }
	    { top = 0; skip = 0; print }' "$1"
}

# one_file USER - the only message of USER
one_file() { ls "$PF/mail/$1/new/"* 2>/dev/null | head -1; }

# wait_log TEXT - until detach's log has TEXT (bounded)
wait_log() {
	local i=0
	while ! grep -q -- "$1" "$T/detach.log" && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	grep -q -- "$1" "$T/detach.log"
}
