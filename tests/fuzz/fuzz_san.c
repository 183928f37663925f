/*
 * fuzz_san.c - libFuzzer harness for http_san_ip_match()
 *
 * Input: one control byte (bit 0: match an IPv6 address, else IPv4),
 * then a certificate in DER, hostile. The reader must stay inside the
 * buffer (libFuzzer's is exactly the input's size; ASan watches), give
 * -1, 0 or 1, and give the same answer twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char v4[4] = {127, 0, 0, 1};
	static const unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 1};
	const unsigned char *ip;
	size_t iplen;
	int a, b;

	if (size < 1)
		return (0);
	ip = (data[0] & 1) ? v6 : v4;
	iplen = (data[0] & 1) ? sizeof(v6) : sizeof(v4);
	a = http_san_ip_match(data + 1, size - 1, ip, iplen);
	b = http_san_ip_match(data + 1, size - 1, ip, iplen);
	if (a < -1 || a > 1 || a != b)
		abort();
	return (0);
}
