/*
 * The other half of tests/host/mm_host.h: the fake machine's state, and
 * the console that the memory code prints and panics through, for every
 * host test of src/mm/ (the Makefile links this file into each).
 *
 * What the code prints goes to host_printed, so a test can check a
 * message. panic() returns to host_on_panic when the test said it expects
 * one (host_expect_panic); any other panic fails the test program, after
 * saying why where the TAP reader sees it.
 */
#include <fern/console.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *host_ram;
uintptr_t host_last_invlpg;
unsigned long host_invlpg_count;
uint64_t host_cr3;

char host_printed[HOST_PRINTED_MAX];
jmp_buf host_on_panic;
bool host_expect_panic;

int kvprintf(const char *fmt, va_list ap)
{
	size_t len = strlen(host_printed);

	return vsnprintf(host_printed + len, sizeof(host_printed) - len, fmt, ap);
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}

void panic(const char *fmt, ...)
{
	va_list ap;

	host_printed[0] = '\0';
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	if (!host_expect_panic) {
		/* abort() does not flush stdio: the TAP lines so far, and this one. */
		printf("# unexpected panic: %s\n", host_printed);
		fflush(stdout);
		abort();
	}
	longjmp(host_on_panic, 1);
}
