/*
 * Tests of the command-line option parser (cmdline.c): the rules of
 * include/fern/cmdline.h, one at a time.
 */
#include <fern/cmdline.h>
#include <fern/ktest.h>

KTEST(cmdline, "a key=value word gives its value")
{
	char v[16];

	KTEST_ASSERT(cmdline_get("origin=grub test=all", "test", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "all");
	KTEST_ASSERT(cmdline_get("origin=grub test=all", "origin", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "grub");
}

KTEST(cmdline, "a later word wins over an earlier one")
{
	char v[16];

	KTEST_ASSERT(cmdline_get("exit=ready idle=0 exit=never", "exit", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "never");
}

KTEST(cmdline, "a bare key is found, with an empty value")
{
	char v[16] = "old";

	KTEST_ASSERT(cmdline_get("a=1 shell b=2", "shell", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "");
	KTEST_EXPECT(cmdline_is("a=1 shell", "shell", ""));
}

KTEST(cmdline, "a missing key is not found and leaves the value alone")
{
	char v[16] = "old";

	KTEST_EXPECT(!cmdline_get("a=1 b=2", "c", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "old");
	KTEST_EXPECT(!cmdline_get("", "c", v, sizeof(v)));
	KTEST_EXPECT(!cmdline_get(NULL, "c", v, sizeof(v)));
}

KTEST(cmdline, "a key does not match a longer word that starts with it")
{
	char v[16];

	KTEST_EXPECT(!cmdline_get("testing=1 tests", "test", v, sizeof(v)));
	KTEST_EXPECT(!cmdline_get("test", "testing", v, sizeof(v)));
}

KTEST(cmdline, "a value too long for the buffer is cut and NUL-terminated")
{
	char v[4];

	KTEST_ASSERT(cmdline_get("nonce=abcdefgh", "nonce", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "abc");
}

KTEST(cmdline, "size 0 only reports whether the key is present")
{
	KTEST_EXPECT(cmdline_get("shell", "shell", NULL, 0));
	KTEST_EXPECT(cmdline_get("x=1", "x", NULL, 0));
	KTEST_EXPECT(!cmdline_get("x=1", "y", NULL, 0));
}

KTEST(cmdline, "extra spaces between, before and after words are ignored")
{
	char v[16];

	KTEST_ASSERT(cmdline_get("  a=1    b=2  ", "b", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "2");
}

KTEST(cmdline, "a value may contain = and is kept whole")
{
	char v[16];

	KTEST_ASSERT(cmdline_get("opt=a=b", "opt", v, sizeof(v)));
	KTEST_EXPECT_STREQ(v, "a=b");
}

KTEST(cmdline, "cmdline_is compares the whole value")
{
	KTEST_EXPECT(cmdline_is("exit=ready", "exit", "ready"));
	KTEST_EXPECT(!cmdline_is("exit=readyx", "exit", "ready"));
	KTEST_EXPECT(!cmdline_is("exit=read", "exit", "ready"));
	KTEST_EXPECT(!cmdline_is("", "exit", "ready"));
}
