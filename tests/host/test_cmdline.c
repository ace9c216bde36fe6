/*
 * Host unit test of the command-line option parser (src/lib/cmdline.c):
 * the rules of include/fern/cmdline.h, including the edges a hand-typed
 * GRUB line or a harness's fw_cfg string can hit. Built with the
 * sanitizers by `make host-tests`; cmdline.c uses the host's strlen etc.
 */
#include <fern/cmdline.h>

#include <stdlib.h>

#include "tap.h"

/* cmdline_get into a fresh buffer of exactly @size bytes (ASan-checked). */
static const char *get(const char *cmdline, const char *key, size_t size)
{
	static char result[256];
	char *value = malloc(size ? size : 1);
	bool found;

	memset(value, '#', size ? size : 1);
	found = cmdline_get(cmdline, key, value, size);
	if (!found)
		strcpy(result, "(not found)");
	else if (size == 0)
		strcpy(result, "(found)");
	else
		snprintf(result, sizeof(result), "%s", value);
	free(value);
	return result;
}

int main(void)
{
	tap_streq(get("origin=grub test=all", "test", 16), "all",
		  "a key=value word gives its value");
	tap_streq(get("origin=grub test=all", "origin", 16), "grub",
		  "the first word is found too");
	tap_streq(get("exit=ready idle=0 exit=never", "exit", 16), "never",
		  "a later word wins over an earlier one");
	tap_streq(get("test=all test", "test", 16), "",
		  "a later bare key wins over an earlier value");
	tap_streq(get("a=1 shell b=2", "shell", 16), "",
		  "a bare key is found with an empty value");
	tap_streq(get("a=1 b=2", "c", 16), "(not found)",
		  "a missing key is not found");
	tap_streq(get("", "c", 16), "(not found)",
		  "nothing is found in an empty command line");
	tap_streq(get(NULL, "c", 16), "(not found)",
		  "nothing is found in a NULL command line");
	tap_streq(get("testing=1 tests", "test", 16), "(not found)",
		  "a key does not match a longer word that starts with it");
	tap_streq(get("test", "testing", 16), "(not found)",
		  "a key does not match a shorter word");
	tap_streq(get("nonce=abcdefgh", "nonce", 4), "abc",
		  "a value too long for the buffer is cut and NUL-terminated");
	tap_streq(get("nonce=abc", "nonce", 4), "abc",
		  "a value that just fits is whole");
	tap_streq(get("nonce=abc", "nonce", 1), "",
		  "a 1-byte buffer holds only the NUL");
	tap_streq(get("shell", "shell", 0), "(found)",
		  "size 0 only reports that the key is present");
	tap_streq(get("  a=1    b=2  ", "b", 16), "2",
		  "extra spaces between, before and after words are ignored");
	tap_streq(get("opt=a=b", "opt", 16), "a=b",
		  "a value may contain =");
	tap_streq(get("opt= x=1", "opt", 16), "",
		  "key= gives an empty value");
	tap_streq(get("=1 a=2", "a", 16), "2",
		  "a word with an empty key does not disturb the others");

	tap_ok(cmdline_is("exit=ready", "exit", "ready"),
	       "cmdline_is matches the whole value");
	tap_ok(!cmdline_is("exit=readyx", "exit", "ready"),
	       "cmdline_is does not match a longer value");
	tap_ok(!cmdline_is("exit=read", "exit", "ready"),
	       "cmdline_is does not match a shorter value");
	tap_ok(!cmdline_is("", "exit", "ready"),
	       "cmdline_is is false for a missing key");
	tap_ok(cmdline_is("bench", "bench", ""),
	       "cmdline_is with \"\" matches a bare key");
	return tap_done();
}
