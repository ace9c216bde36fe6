/*
 * panic(): the kernel's last words. When something is wrong enough that
 * going on would do harm, say what and where, and stop.
 *
 * "Where" is a backtrace. Every function compiled with frame pointers
 * (-fno-omit-frame-pointer) starts with
 *
 *     push %rbp          ; save the caller's frame pointer
 *     mov  %rsp, %rbp    ; this frame starts here
 *
 * so at any moment RBP points at a saved RBP, and the 8 bytes above it are
 * the return address the CALL pushed (System V x86_64 ABI §3.2.2). The
 * saved RBPs form a linked list through the stack, from the current
 * function to kmain, whose caller entry.asm zeroed RBP to end the list.
 * Each return address lies inside the calling function; the symbol table
 * the build links into the kernel turns it into a name.
 */
#include <fern/console.h>
#include <fern/exit.h>
#include <fern/layout.h>
#include <fern/x86.h>
#include <stdbool.h>

/* Enough for any sane call chain; a corrupt one cannot loop forever. */
#define BACKTRACE_MAX_DEPTH	32

/* Linker script symbols: where code is (the boot code, then .text). */
extern const char __kernel_phys_start[], __boot_end[];
extern const char __text_start[], __text_end[];

/*
 * Binary search for the last symbol at or below @addr. The table is
 * sorted by address, and a function extends up to the next symbol.
 */
const char *ksym_lookup(uintptr_t addr, uintptr_t *offset)
{
	size_t lo = 0, hi = ksym_count;

	bool in_boot = addr >= (uintptr_t)__kernel_phys_start &&
		       addr < (uintptr_t)__boot_end;
	bool in_text = addr >= (uintptr_t)__text_start &&
		       addr < (uintptr_t)__text_end;

	/* Only code addresses have names: garbage gets none. */
	if (ksym_count == 0 || addr < ksym_table[0].addr || !(in_boot || in_text))
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ksym_table[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	*offset = addr - ksym_table[lo].addr;
	return ksym_names + ksym_table[lo].name;
}

/*
 * Print "0x<addr> <function>+0x<offset>", the way every report names a
 * place in the code. A return address is where execution goes on after a
 * CALL, and the CALL may be the last instruction of its function (a call
 * to a function that never returns, like panic() itself), so the return
 * address can be the first byte of the next function: look up addr - 1,
 * which is always inside the CALL, and show the offset of addr.
 */
bool ksym_print(uintptr_t addr, enum ksym_kind kind)
{
	uintptr_t offset, back = kind == KSYM_RETURN_ADDRESS ? 1 : 0;
	const char *name = ksym_lookup(addr - back, &offset);

	kprintf("0x%016lx", addr);
	if (!name)
		return false;
	kprintf(" %s+0x%lx", name, offset + back);
	return true;
}

static void print_return_address(uintptr_t addr)
{
	if (!ksym_print(addr, KSYM_RETURN_ADDRESS))
		kprintf(" ??");
	kprintf("\n");
}

/*
 * Reading through a bad frame pointer would fault, and with no exception
 * handlers yet (chapter 3) a fault is a reboot. So before following a
 * frame pointer, check that it is 8-byte aligned, that both words it
 * points at lie inside one of the kernel's stacks (the table of
 * layout.h, which leaves out the unmapped guard pages below them), and
 * that it is above the previous frame: stacks grow down, so callers'
 * frames are at higher addresses, and a chain that goes back down is
 * corrupt.
 */
static bool frame_is_sane(uintptr_t fp, uintptr_t prev)
{
	const struct kernel_stack *s = kernel_stack_at(fp);

	return fp % 8 == 0 && fp > prev && s &&
	       fp + 16 <= (uintptr_t)s->top;
}

void backtrace_print(uintptr_t fp)
{
	uintptr_t prev = 0;

	for (int depth = 0; fp != 0; depth++) {
		const uintptr_t *frame = (const uintptr_t *)fp;

		if (depth == BACKTRACE_MAX_DEPTH) {
			kprintf("    (stopped after %d frames)\n", depth);
			return;
		}
		if (!frame_is_sane(fp, prev)) {
			kprintf("    (bad frame pointer 0x%lx; stopped)\n", fp);
			return;
		}
		kprintf("    #%d ", depth);
		print_return_address(frame[1]);
		prev = fp;
		fp = frame[0];
	}
}

/*
 * If printing a fatal report fails the same way again (a failed assert in
 * the console, say, or a fault in an exception's report), a second full
 * report would recurse until the stack overflows. The second time, use
 * the simplest output there is and stop.
 */
void fatal_guard_enter(struct fatal_guard *guard)
{
	cli();
	if (guard->entered++) {
		serial_puts(guard->again);
		machine_exit(false);
	}
}

/*
 * The report: the message, the code to blame (@caller, a return address),
 * and the backtrace from frame @fp. panic() blames its own caller.
 */
__attribute__((noreturn))
static void vpanic(uintptr_t caller, uintptr_t fp, const char *fmt, va_list ap)
{
	static struct fatal_guard guard = {
		.again = "panic: panic while panicking; stopping\n",
	};

	fatal_guard_enter(&guard);

	vga_set_color(VGA_LIGHT_RED, VGA_BLACK);
	kprintf("panic: ");
	kvprintf(fmt, ap);
	kprintf("\n");
	kprintf("  caller: ");
	print_return_address(caller);
	backtrace_print(fp);
	machine_exit(false);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpanic((uintptr_t)__builtin_return_address(0),
	       (uintptr_t)__builtin_frame_address(0), fmt, ap);
}
#if FERN_CHAPTER >= 5

void panic_at(const void *caller, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpanic((uintptr_t)caller, (uintptr_t)__builtin_frame_address(0), fmt, ap);
}
#endif
