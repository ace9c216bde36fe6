/*
 * Where random bytes come from: the best source that registered, else
 * RDRAND, else the time stamp counter, mixed (rng.h).
 */
#include <fern/console.h>
#include <fern/init.h>
#include <fern/parse.h>
#include <fern/rng.h>
#include <fern/shell.h>
#include <fern/string.h>
#include <fern/x86.h>
#include <stdbool.h>
#include <stdint.h>

#define CPUID_1_ECX_RDRAND	(1U << 30)
/* RDRAND may fail for a moment when the DRNG is drained: retry (SDM §7.3.17.1). */
#define RDRAND_RETRIES		10

static const char *source_name;
static int (*source_fill)(void *buf, size_t n);

void rng_set_source(const char *name, int (*fill)(void *buf, size_t n))
{
	source_name = name;
	source_fill = fill;
}

static bool has_rdrand(void)
{
	return cpuid(1, 0).ecx & CPUID_1_ECX_RDRAND;
}

static bool rdrand64(uint64_t *v)
{
	for (int i = 0; i < RDRAND_RETRIES; i++) {
		unsigned char ok;

		__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return true;
	}
	return false;
}

/*
 * The weak fallback: each word is the TSC run through SplitMix64's
 * finaliser (a bijection that spreads every input bit over the output),
 * chained with the previous word. Unpredictable only as far as the exact
 * cycle counts of the boot are.
 */
static uint64_t tsc_state;

static uint64_t tsc_next(void)
{
	uint64_t z = (tsc_state += rdtsc() + 0x9e3779b97f4a7c15UL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
	return z ^ (z >> 31);
}

static void fill_words(void *buf, size_t n, bool rdrand)
{
	unsigned char *p = buf;

	while (n) {
		uint64_t v;
		size_t k = n < sizeof(v) ? n : sizeof(v);

		if (!rdrand || !rdrand64(&v))
			v = tsc_next();
		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

const char *rng_source(void)
{
	if (source_fill)
		return source_name;
	return has_rdrand() ? "rdrand" : "tsc";
}

int rng_fill(void *buf, size_t n)
{
	static bool warned;
	int err = 0;

	if (source_fill) {
		err = source_fill(buf, n);
		if (err == 0)
			return 0;
		if (!warned)
			kprintf("rng: error %d from %s; falling back\n", err, source_name);
		warned = true;
	}
	fill_words(buf, n, has_rdrand());
	return err;
}

/* After the devices level's drivers (link order): say which source won. */
static int rng_report(const struct boot_info *info)
{
	const char *s = rng_source();

	(void)info;
	if (source_fill)
		kprintf("rng: source %s\n", s);
	else if (has_rdrand())
		kprintf("rng: source rdrand (no virtio-rng device)\n");
	else
		kprintf("rng: source tsc (weak: no virtio-rng device, no RDRAND)\n");
	return 0;
}
INITCALL(INIT_DEVICES, rng_report);

/* `rng N`: N random bytes, in hex. */
static int cmd_rng(int argc, char **argv)
{
	unsigned char buf[256];
	uint64_t n = 16;
	int err;

	if (argc > 1) {
		if (parse_u64(argv[1], &n) || n == 0 || n > sizeof(buf)) {
			kprintf("rng: usage: rng N, N from 1 to %u\n", (unsigned)sizeof(buf));
			return 1;
		}
	}
	err = rng_fill(buf, n);
	/* After a failed request the bytes came from the fallback: say so. */
	kprintf("rng: %lu bytes from %s: ", n,
		err ? (has_rdrand() ? "rdrand (fallback)" : "tsc (fallback)") : rng_source());
	for (uint64_t i = 0; i < n; i++)
		kprintf("%02x", buf[i]);
	kprintf("\n");
	return err ? 1 : 0;
}
KCMD(rng, "rng N: N random bytes, in hex", cmd_rng);
