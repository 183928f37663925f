# detach - Makefile. Plain cc, BearSSL linked statically.

CC	= cc
CFLAGS	= -O2 -g
WARN	= -std=c11 -Wall -Wextra -Werror
DEFS	= -D_GNU_SOURCE -I/usr/include/bearssl
# Only libc stays dynamic: ldd ./detach shows nothing else.
LIBS	= -Wl,-Bstatic -lbearssl -Wl,-Bdynamic -pthread
SAN	= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS = 60

# make install PREFIX=/usr DESTDIR=/tmp/pkg
PREFIX	= /usr/local
DESTDIR	=
SBINDIR	= $(PREFIX)/sbin
MANDIR	= $(PREFIX)/share/man
DOCDIR	= $(PREFIX)/share/doc/detach
MANS	= detach.8 detach.conf.5
UNITS_SD = init/systemd/detach.service init/systemd/detach-sweep.service \
	init/systemd/detach-sweep.timer

SRCS	= detach.c proxy.c metrics.c store.c sweep.c mime.c b64.c hash.c smtp.c http.c priv.c policy.c restore.c
OBJS	= $(SRCS:.c=.o)
UNITS	= t_mime t_smtp t_http t_cfg t_store t_sess t_b64 t_hash t_metrics t_sweep t_san t_policy t_restore
SHELL_TESTS = $(sort $(wildcard tests/*.test.sh))

all: detach

detach: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LIBS)

.c.o:
	$(CC) $(CFLAGS) $(WARN) $(DEFS) -c $<

$(OBJS): detach.h

# Unit tests link every module but main(); the sanitized set is built
# into tests/san/. The modules are compiled once for each set, into
# tests/obj/ and tests/sobj/, and every test program links them.
LIBSRCS	= $(SRCS)
TOBJS	= $(SRCS:%.c=tests/obj/%.o)
SOBJS	= $(SRCS:%.c=tests/sobj/%.o)
# Kept, not removed as intermediates: the next make check reuses them,
# and make check's last line stays its count.
.SECONDARY: $(TOBJS) $(SOBJS)

tests/obj/%.o: %.c detach.h
	@mkdir -p tests/obj
	$(CC) $(CFLAGS) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -c -o $@ $<

tests/sobj/%.o: %.c detach.h
	@mkdir -p tests/sobj
	$(CC) -O1 -g $(SAN) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -c -o $@ $<

tests/bin/t_%: tests/t_%.c $(TOBJS) detach.h tests/t.h
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< $(TOBJS) $(LIBS)

tests/san/t_%: tests/t_%.c $(SOBJS) detach.h tests/t.h
	@mkdir -p tests/san
	$(CC) -O1 -g $(SAN) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< $(SOBJS) $(LIBS)

# The hash behind is the one thread: its test runs under ThreadSanitizer
# too (tests/tsan.test.sh), hash.c instrumented, the others as they are.
TSAN	= -fsanitize=thread
tests/tsan/t_hash: tests/t_hash.c hash.c $(TOBJS) detach.h tests/t.h
	@mkdir -p tests/tsan
	$(CC) -O1 -g $(TSAN) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ tests/t_hash.c hash.c $(filter-out tests/obj/hash.o,$(TOBJS)) $(LIBS)

units: $(UNITS:%=tests/bin/%) $(UNITS:%=tests/san/%) tests/tsan/t_hash

# Every harness also links with tests/fuzz/replay.c instead of
# libFuzzer, plain and sanitized, so make check runs the kept corpora.
FUZZERS	= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
tests/bin/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(TOBJS) detach.h
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< tests/fuzz/replay.c $(TOBJS) $(LIBS)

tests/san/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(SOBJS) detach.h
	@mkdir -p tests/san
	$(CC) -O1 -g $(SAN) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< tests/fuzz/replay.c $(SOBJS) $(LIBS)

replays: $(FUZZERS:%=tests/bin/replay_%) $(FUZZERS:%=tests/san/replay_%)

check: detach units replays
	tests/run.sh $(UNITS:%=tests/bin/%) $(UNITS:%=tests/san/%) -- $(SHELL_TESTS)

# The fault matrix alone (tests/FAULTS.md): tests/faults*.test.sh.
faults: detach
	tests/run.sh -- $(sort $(wildcard tests/faults*.test.sh))

# libFuzzer harnesses (clang): make fuzz FUZZ=mime FUZZ_SECONDS=600
FUZZ	= mime
tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBSRCS) detach.h
	clang -O1 -g -fsanitize=fuzzer,address,undefined $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< $(LIBSRCS) $(LIBS)

fuzz: tests/fuzz/fuzz_$(FUZZ)
	mkdir -p tests/fuzz/work_$(FUZZ) tests/fuzz/corpus/$(FUZZ)
	tests/fuzz/fuzz_$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    tests/fuzz/work_$(FUZZ) tests/fuzz/corpus/$(FUZZ) \
	    tests/fuzz/seed_$(FUZZ)

# Keep what a run learned: merge its work directory into the committed,
# minimised corpus (inputs that add coverage only).
fuzz-keep: tests/fuzz/fuzz_$(FUZZ)
	mkdir -p tests/fuzz/corpus/$(FUZZ) tests/fuzz/work_$(FUZZ)
	tests/fuzz/fuzz_$(FUZZ) -merge=1 -max_len=65536 \
	    tests/fuzz/corpus/$(FUZZ) tests/fuzz/work_$(FUZZ) \
	    tests/fuzz/seed_$(FUZZ)

# install puts files in place and nothing more: it enables and starts
# nothing, and never writes /etc/detach.conf (the example goes to the
# doc directory). uninstall removes exactly what install put.
install: detach
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)/systemd \
	    $(DESTDIR)$(DOCDIR)/runit/detach/log
	install -m 0755 detach $(DESTDIR)$(SBINDIR)/detach
	install -m 0644 detach.8 $(DESTDIR)$(MANDIR)/man8/detach.8
	install -m 0644 detach.conf.5 $(DESTDIR)$(MANDIR)/man5/detach.conf.5
	install -m 0644 detach.conf.example $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(UNITS_SD) $(DESTDIR)$(DOCDIR)/systemd/
	install -m 0755 init/runit/detach/run $(DESTDIR)$(DOCDIR)/runit/detach/run
	install -m 0755 init/runit/detach/log/run \
	    $(DESTDIR)$(DOCDIR)/runit/detach/log/run

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/detach $(DESTDIR)$(MANDIR)/man8/detach.8 \
	    $(DESTDIR)$(MANDIR)/man5/detach.conf.5 \
	    $(DESTDIR)$(DOCDIR)/detach.conf.example \
	    $(UNITS_SD:init/systemd/%=$(DESTDIR)$(DOCDIR)/systemd/%) \
	    $(DESTDIR)$(DOCDIR)/runit/detach/run \
	    $(DESTDIR)$(DOCDIR)/runit/detach/log/run
	rmdir $(DESTDIR)$(DOCDIR)/runit/detach/log \
	    $(DESTDIR)$(DOCDIR)/runit/detach $(DESTDIR)$(DOCDIR)/runit \
	    $(DESTDIR)$(DOCDIR)/systemd $(DESTDIR)$(DOCDIR) 2>/dev/null || :

# The library sources, for drivers built outside make (bench/upload.sh).
print-srcs:
	@echo $(SRCS)

demo: detach
	tests/demo.sh

clean:
	rm -rf detach *.o tests/bin tests/san tests/tsan tests/obj tests/sobj tests/run.log \
	    demo-store \
	    $(FUZZERS:%=tests/fuzz/fuzz_%)

.PHONY: all check faults units replays print-srcs fuzz fuzz-keep demo clean install uninstall
