#!/usr/bin/env python3
# soak.py - the client and the judge of bench/soak.sh
#
#   soak.py send PORT N TAG RESULTS SAMPLES PID [options]
#	sends N messages at --conc sessions (default 20) to PORT, each to
#	TAG's mailbox of its session (TAG1 .. TAG20@example.test), each
#	with its own Message-ID <TAG-N.soak@example.test>; several
#	messages per session (--per-session). Writes one line per message
#	to RESULTS (index, Message-ID, kind, the reply at the dot, the
#	SHA-256 of each attachment it expects to see detached). Samples
#	PID's VmRSS and open descriptors every second into SAMPLES (CSV),
#	and once more when all sessions are closed and PID is back to its
#	descriptors before the first message (bounded wait). With
#	--hup-every S, sends PID a SIGHUP (reload) every S seconds.
#   soak.py check MAILROOT TAG RESULTS CA LINK
#	reads every delivered message of TAG's mailboxes, counts them by
#	Message-ID against RESULTS, fetches every distinct X-Detach-URL
#	once with curl (--cacert CA) and compares the bytes' SHA-256 with
#	the X-Detach-SHA256 of every link part naming that URL. Prints
#	"name value" lines.
#
# The mix, by message index: plain text; one attachment; several
# (and one under min_size that must stay); one of a small pool of
# attachments again and again (dedupe); a message of tests/corpus
# with its own Message-ID taken out and ours put first; one large
# attachment every --large-every messages; and every --cut-every
# messages one with three attachments whose session is closed inside
# DATA (reply "CUT": never to be delivered). Attachments are random
# bytes, so the expected digests come from hashlib here, not from
# detach.

import argparse, base64, csv, hashlib, os, random, re, signal, socket
import subprocess, sys, tempfile, threading, time

MIN_SIZE = 10 * 1024	# bench/soak.sh sets detach's min_size to this


def b64(data):
	s = base64.encodebytes(data)
	return s.replace(b"\n", b"\r\n")


def attachment(name, data, ctype=b"application/octet-stream"):
	return (b"Content-Type: " + ctype + b"\r\n"
		b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
		b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(data))


def header(msgid, rcpt, subject):
	return ("Message-ID: %s\r\nFrom: <soak@example.org>\r\nTo: <%s>\r\n"
		"Subject: %s\r\nDate: Tue, 1 Dec 2026 12:00:00 +0000\r\n"
		"MIME-Version: 1.0\r\n" % (msgid, rcpt, subject)).encode()


TEXT = (b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
	b".a line that starts with a dot\r\n")


def multipart(h, parts):
	bnd = b"soak-" + os.urandom(8).hex().encode()
	out = [h, b'Content-Type: multipart/mixed; boundary="' + bnd + b'"\r\n\r\n',
	       b"--" + bnd + b"\r\nContent-Type: text/plain\r\n\r\n", TEXT * 8]
	for p in parts:
		out.append(b"\r\n--" + bnd + b"\r\n" + p)
	out.append(b"\r\n--" + bnd + b"--\r\n")
	return b"".join(out)


def corpus_files(root):
	fs = []
	for d, _, names in os.walk(root):
		for n in names:
			if not n.startswith("_") and not n.endswith(".md"):
				fs.append(os.path.join(d, n))
	return sorted(fs)


def from_corpus(path, msgid):
	"""The corpus message with its own Message-ID (and an mbox From_
	line) taken out of its header and ours put first."""
	raw = open(path, "rb").read()
	lines = raw.split(b"\n")
	if lines and lines[0].startswith(b"From "):
		lines = lines[1:]
	out, inhead, skip = [], True, False
	for l in lines:
		if inhead:
			if l.rstrip(b"\r") == b"":
				inhead = False
			elif l[:1] in (b" ", b"\t"):
				if skip:
					continue
			else:
				skip = l.lower().startswith(b"message-id:")
				if skip:
					continue
		out.append(l.rstrip(b"\r"))
	return ("Message-ID: %s\r\n" % msgid).encode() + b"\r\n".join(out)


class Mix:
	def __init__(self, tag, corpus, large_every, large_size, cut_every):
		self.tag = tag
		self.cut_every = cut_every
		self.corpus = corpus_files(corpus) if corpus else []
		self.large_every = large_every
		self.large_size = large_size
		r = random.Random(1)	# the dedupe pool: the same in every run
		self.pool = [r.randbytes(64 * 1024) for _ in range(4)]

	def make(self, i, rcpt):
		"""(kind, bytes, [sha256 of each attachment to detach])"""
		msgid = "<%s-%d.soak@example.test>" % (self.tag, i)
		h = header(msgid, rcpt, "soak %s %d" % (self.tag, i))
		if self.large_every and i % self.large_every == self.large_every - 1:
			d = os.urandom(self.large_size)
			return ("large", msgid, multipart(h, [attachment(b"large.bin", d)]),
				[hashlib.sha256(d).hexdigest()])
		if self.cut_every and i % self.cut_every == self.cut_every // 2:
			# the client goes away inside DATA: never to be delivered
			ds = [os.urandom(random.randint(MIN_SIZE + 1, 200 * 1024))
			      for _ in range(3)]
			return ("cut", msgid, multipart(h, [attachment(
				b"cut%d.bin" % j, d) for j, d in enumerate(ds)]), None)
		k = i % 10
		if k in (0, 1, 2) or (k in (8, 9) and not self.corpus):
			return ("plain", msgid, h + b"Content-Type: text/plain\r\n\r\n"
				+ TEXT * (20 + i % 50), [])
		if k in (3, 4):
			d = os.urandom(random.randint(MIN_SIZE + 1, 120 * 1024))
			return ("one", msgid, multipart(h, [attachment(b"one.pdf", d,
				b"application/pdf")]), [hashlib.sha256(d).hexdigest()])
		if k in (5, 6):
			ds = [os.urandom(random.randint(MIN_SIZE + 1, 60 * 1024))
			      for _ in range(random.randint(2, 4))]
			small = os.urandom(2048)	# under min_size: stays
			parts = [attachment(b"part%d.bin" % j, d)
				 for j, d in enumerate(ds)]
			parts.insert(1, attachment(b"small.bin", small))
			return ("several", msgid, multipart(h, parts),
				[hashlib.sha256(d).hexdigest() for d in ds])
		if k == 7:
			j = (i // 10) % len(self.pool)
			d = self.pool[j]
			return ("dedupe", msgid, multipart(h, [attachment(
				b"pool%d.bin" % j, d)]), [hashlib.sha256(d).hexdigest()])
		f = self.corpus[(i // 5 + k) % len(self.corpus)]
		return ("corpus:" + os.path.relpath(f, os.path.dirname(
			os.path.dirname(f))), msgid, from_corpus(f, msgid), None)


def smtp_data(m):
	"""CRLF lines, dot-stuffed, ended by the lone dot"""
	lines = m.split(b"\n")
	if lines and lines[-1] == b"":
		lines.pop()
	out = []
	for l in lines:
		l = l.rstrip(b"\r")
		out.append(b"." + l if l.startswith(b".") else l)
	return b"\r\n".join(out) + b"\r\n.\r\n"


def reply(f):
	last = ""
	while True:
		l = f.readline()
		if not l:
			return "EOF", last
		last = l.decode("latin-1").rstrip("\r\n")
		if len(last) < 4 or last[3] != "-":
			return last[:3], last


def proc_sample(pid):
	rss = 0
	with open("/proc/%s/status" % pid) as f:
		for l in f:
			if l.startswith("VmRSS:"):
				rss = int(l.split()[1])
	return rss, len(os.listdir("/proc/%s/fd" % pid))


def send(argv):
	ap = argparse.ArgumentParser(prog="soak.py send")
	ap.add_argument("port", type=int)
	ap.add_argument("n", type=int)
	ap.add_argument("tag")
	ap.add_argument("results")
	ap.add_argument("samples")
	ap.add_argument("pid")
	ap.add_argument("--conc", type=int, default=20)
	ap.add_argument("--per-session", type=int, default=10)
	ap.add_argument("--corpus", default="")
	ap.add_argument("--large-every", type=int, default=500)
	ap.add_argument("--large-size", type=int, default=25 * 1000 * 1000)
	ap.add_argument("--mark", type=int, default=500)
	ap.add_argument("--pool", type=int, default=0)
	ap.add_argument("--idle", type=float, default=0)
	ap.add_argument("--cut-every", type=int, default=50)
	ap.add_argument("--hup-every", type=float, default=0)
	a = ap.parse_args(argv)
	mix = Mix(a.tag, a.corpus, a.large_every, a.large_size, a.cut_every)
	lock = threading.Lock()
	state = {"next": 0, "done": 0, "acked": 0, "stop": False, "hups": 0}
	results = open(a.results, "w")
	rss0, fds0 = proc_sample(a.pid)

	def take():
		with lock:
			i = state["next"]
			if i >= a.n:
				return None
			state["next"] = i + 1
			return i

	def record(i, kind, msgid, code, text, shas):
		with lock:
			state["done"] += 1
			if code == "250":
				state["acked"] += 1
			results.write("%d\t%s\t%s\t%s\t%s\t%s\n" % (i, msgid, kind,
				code, text.replace("\t", " ")[:200],
				"-" if shas is None else ",".join(shas)))

	def worker(slot):
		rcpt = "%s%d@example.test" % (a.tag, slot + 1)
		s = f = None
		sent = 0
		i = take()
		while i is not None:
			kind, msgid, m, shas = mix.make(i, rcpt)
			code, text = "ERR", ""
			try:
				if s is None:
					s = socket.create_connection(("127.0.0.1", a.port),
						timeout=300)
					f = s.makefile("rb")
					sent = 0
					code, text = reply(f)
					if code != "220":
						raise OSError("greeting " + text)
					s.sendall(b"EHLO client.soak.test\r\n")
					code, text = reply(f)
					if code != "250":
						raise OSError("EHLO " + text)
				for c in (b"MAIL FROM:<soak@example.org>",
					  b"RCPT TO:<" + rcpt.encode() + b">", b"DATA"):
					s.sendall(c + b"\r\n")
					code, text = reply(f)
					if code[0] not in "23":
						raise OSError(c.decode() + ": " + text)
				if kind == "cut":
					# somewhere past the first attachment's start
					d = smtp_data(m)
					s.sendall(d[:random.randint(len(d) // 3, len(d) - 4)])
					s.close()
					s = None
					code, text = "CUT", "closed inside DATA"
					record(i, kind, msgid, code, text, None)
					i = take()
					continue
				s.sendall(smtp_data(m))
				code, text = reply(f)
				sent += 1
				if code == "EOF":
					raise OSError("connection lost at the dot")
				if sent >= a.per_session:
					s.sendall(b"QUIT\r\n")
					reply(f)
					s.close()
					s = None
			except OSError as e:
				text = text or str(e)
				if s is not None:
					s.close()
				s = None
			record(i, kind, msgid, code, text, shas)
			i = take()
		if s is not None:
			try:
				s.sendall(b"QUIT\r\n")
				reply(f)
			except OSError:
				pass
			s.close()

	out = open(a.samples, "w")
	out.write("seconds,messages,acked,rss_kib,fds\n")
	out.write("0,0,0,%d,%d\n" % (rss0, fds0))
	mark = {}
	t0 = time.monotonic()

	def hupper():
		while not state["stop"]:
			time.sleep(a.hup_every)
			if not state["stop"]:
				os.kill(int(a.pid), signal.SIGHUP)
				state["hups"] += 1

	def sampler():
		while not state["stop"]:
			time.sleep(1)
			try:
				rss, fds = proc_sample(a.pid)
			except OSError:
				continue
			with lock:
				done, acked = state["done"], state["acked"]
			out.write("%.1f,%d,%d,%d,%d\n" % (time.monotonic() - t0,
				done, acked, rss, fds))
			out.flush()
			if done >= a.mark and "rss" not in mark:
				mark["rss"], mark["fds"] = rss, fds


	st = threading.Thread(target=sampler)
	st.start()
	if a.hup_every:
		ht = threading.Thread(target=hupper)
		ht.start()
	ws = [threading.Thread(target=worker, args=(k,)) for k in range(a.conc)]
	for w in ws:
		w.start()
	for w in ws:
		w.join()
	secs = time.monotonic() - t0
	state["stop"] = True
	st.join()
	if a.hup_every:
		ht.join()
	results.close()
	# the end: every session closed, detach back to the descriptors it
	# had before the first message, bar --pool idle store connections
	# (bounded: 30 s)
	for _ in range(300):
		rss, fds = proc_sample(a.pid)
		if fds <= fds0 + a.pool:
			break
		time.sleep(0.1)
	# and idle for --idle seconds more, after which detach gives back
	# the heap it keeps for busy times (proxy.c, PROXY_TRIM_IDLE_MS)
	if a.idle:
		time.sleep(a.idle + 1)
		rss, fds = proc_sample(a.pid)
	out.write("%.1f,%d,%d,%d,%d\n" % (time.monotonic() - t0, state["done"],
		state["acked"], rss, fds))
	out.close()
	if "rss" not in mark:
		mark["rss"], mark["fds"] = rss, fds
	print("sent", a.n)
	print("acked", state["acked"])
	print("seconds %.1f" % secs)
	print("msgs_per_s %.1f" % (a.n / secs))
	print("hups", state["hups"])
	print("rss_start", rss0)
	print("fds_start", fds0)
	print("rss_mark", mark["rss"])
	print("fds_mark", mark["fds"])
	print("rss_end", rss)
	print("fds_end", fds)
	print("rss_max", max(int(r["rss_kib"]) for r in csv.DictReader(
		open(a.samples))))


def delivered(root, tag):
	"""{Message-ID: [(path, [(url, sha)])]} for TAG's mailboxes"""
	got = {}
	for box in os.listdir(root):
		if not (box.startswith(tag) and box[len(tag):].isdigit()):
			continue
		d = os.path.join(root, box, "new")
		for n in os.listdir(d):
			p = os.path.join(d, n)
			msgid, links, url = None, [], None
			inhead = True
			with open(p, "rb") as f:
				for l in f:
					l = l.rstrip(b"\r\n")
					if inhead:
						if l == b"":
							inhead = False
						elif msgid is None and l[:11].lower() == b"message-id:":
							msgid = l[11:].strip().decode("latin-1")
					if l.startswith(b"X-Detach-URL: "):
						url = l[14:].strip().decode("latin-1")
					elif l.startswith(b"X-Detach-SHA256: ") and url:
						links.append((url, l[17:].strip().decode()))
						url = None
			got.setdefault(msgid, []).append((p, links))
	return got


def check(argv):
	root, tag, results, ca, link = argv
	sent = acked = 0
	cut = set()
	want = {}	# Message-ID -> expected digests or None
	for l in open(results):
		i, msgid, kind, code, text, shas = l.rstrip("\n").split("\t")
		sent += 1
		if code == "CUT":
			cut.add(msgid)
		elif code == "250":
			acked += 1
			want[msgid] = None if shas == "-" else (
				sorted(shas.split(",")) if shas else [])
	got = delivered(root, tag)
	once = sum(1 for k in want if len(got.get(k, [])) == 1)
	lost = sorted(k for k in want if k not in got)
	dups = sum(len(v) - 1 for v in got.values() if len(v) > 1)
	unknown = sum(len(v) for k, v in got.items()
		      if k not in want and k not in cut)
	# each attachment we made: detached, and its link names its digest
	wrong_parts = 0
	for k, w in want.items():
		if w is None or k not in got:
			continue
		have = sorted(s for u, s in got[k][0][1])
		if have != w:
			wrong_parts += 1
	# every distinct URL once; every message's links among them
	claims = {}
	for v in got.values():
		for p, links in v:
			for u, s in links:
				claims.setdefault(u, set()).add(s)
	urls = sorted(claims)
	bad = set(u for u in urls if len(claims[u]) != 1 or not u.startswith(link))
	tmp = tempfile.mkdtemp(prefix="soak-get.")
	for b in range(0, len(urls), 200):
		batch = urls[b:b + 200]
		cfg = os.path.join(tmp, "curl.cfg")
		with open(cfg, "w") as f:
			for j, u in enumerate(batch):
				f.write('url = "%s"\noutput = "%s/%d"\n' % (
					u.replace("\\", "\\\\").replace('"', '\\"'), tmp, j))
		subprocess.run(["curl", "-sS", "--no-progress-meter", "--fail",
				"--cacert", ca,
				"--parallel", "--parallel-max", "8", "-K", cfg])
		for j, u in enumerate(batch):
			p = os.path.join(tmp, str(j))
			try:
				h = hashlib.sha256()
				with open(p, "rb") as f:
					for c in iter(lambda: f.read(1 << 20), b""):
						h.update(c)
				os.unlink(p)
				if h.hexdigest() not in claims[u]:
					bad.add(u)
			except OSError:
				bad.add(u)
	if urls:
		os.unlink(os.path.join(tmp, "curl.cfg"))
	os.rmdir(tmp)
	msgs_dead = sum(1 for v in got.values() for p, links in v
			if any(u in bad for u, s in links))
	nlinks = sum(len(links) for v in got.values() for p, links in v)
	print("sent", sent)
	print("acked", acked)
	print("cut", len(cut))
	print("cut_delivered", sum(len(got.get(k, [])) for k in cut))
	print("delivered_once", once)
	print("lost", len(lost))
	print("duplicates", dups)
	print("unexpected", unknown)
	print("links", nlinks)
	print("distinct_urls", len(urls))
	print("dead_links", len(bad))
	print("messages_with_dead_links", msgs_dead)
	print("wrong_parts", wrong_parts)
	print("pool_urls", sum(1 for u in urls
			       if re.search(r"/pool[0-9]+\.bin$", u)))
	for k in lost[:5]:
		print("# lost", k)
	for u in sorted(bad)[:5]:
		print("# dead", u)


if __name__ == "__main__":
	if sys.argv[1] == "send":
		send(sys.argv[2:])
	elif sys.argv[1] == "check":
		check(sys.argv[2:])
	else:
		sys.exit("usage: soak.py send|check ...")
