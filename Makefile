# detach - Makefile. Plain cc, BearSSL linked statically.

CC	= cc
CFLAGS	= -O2 -g
WARN	= -std=c11 -Wall -Wextra -Werror
DEFS	= -D_GNU_SOURCE -I/usr/include/bearssl
# Only libc stays dynamic: ldd ./detach shows nothing else.
LIBS	= -Wl,-Bstatic -lbearssl -Wl,-Bdynamic
SAN	= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS = 60

SRCS	= detach.c proxy.c store.c mime.c smtp.c http.c restore.c
OBJS	= $(SRCS:.c=.o)
UNITS	= t_mime t_smtp t_http t_cfg t_store t_sess t_restore
SHELL_TESTS = $(sort $(wildcard tests/*.test.sh))

all: detach

detach: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LIBS)

.c.o:
	$(CC) $(CFLAGS) $(WARN) $(DEFS) -c $<

$(OBJS): detach.h

# Unit tests link every module but main(); the sanitized set is built
# into tests/san/.
LIBSRCS	= $(SRCS)
tests/bin/t_%: tests/t_%.c $(LIBSRCS) detach.h tests/t.h
	@mkdir -p tests/bin
	$(CC) $(CFLAGS) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< $(LIBSRCS) $(LIBS)

tests/san/t_%: tests/t_%.c $(LIBSRCS) detach.h tests/t.h
	@mkdir -p tests/san
	$(CC) -O1 -g $(SAN) $(WARN) $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< $(LIBSRCS) $(LIBS)

units: $(UNITS:%=tests/bin/%) $(UNITS:%=tests/san/%)

check: detach units
	tests/run.sh $(UNITS:%=tests/bin/%) $(UNITS:%=tests/san/%) -- $(SHELL_TESTS)

# libFuzzer harnesses (clang): make fuzz FUZZ=mime FUZZ_SECONDS=600
FUZZ	= mime
tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBSRCS) detach.h
	clang -O1 -g -fsanitize=fuzzer,address,undefined $(DEFS) -DDETACH_NO_MAIN -I. -o $@ $< $(LIBSRCS) $(LIBS)

fuzz: tests/fuzz/fuzz_$(FUZZ)
	mkdir -p tests/fuzz/work_$(FUZZ)
	tests/fuzz/fuzz_$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    tests/fuzz/work_$(FUZZ) tests/fuzz/seed_$(FUZZ)

demo: detach
	tests/demo.sh

clean:
	rm -rf detach *.o tests/bin tests/san tests/run.log demo-store \
	    tests/fuzz/fuzz_mime tests/fuzz/fuzz_smtp tests/fuzz/fuzz_http \
	    tests/fuzz/fuzz_cfg tests/fuzz/fuzz_sess

.PHONY: all check units fuzz demo clean
