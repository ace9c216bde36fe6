/*
 * Tests of the memory and string functions (string.c). Each one checks a
 * property the C standard (C99 §7.21) promises, on data small enough to
 * check by hand.
 */
#include <fern/ktest.h>
#include <fern/string.h>

KTEST(string, "memcpy copies exactly n bytes")
{
	char dst[8] = "xxxxxxx";

	KTEST_EXPECT(memcpy(dst, "abc", 3) == dst);
	KTEST_EXPECT_STREQ(dst, "abcxxxx");
	memcpy(dst, "zzz", 0);
	KTEST_EXPECT_STREQ(dst, "abcxxxx");
}

KTEST(string, "memmove handles overlap to the right")
{
	char buf[] = "abcdef";

	/* The destination starts inside the source: copy from the end. */
	KTEST_EXPECT(memmove(buf + 2, buf, 4) == buf + 2);
	KTEST_EXPECT_STREQ(buf, "ababcd");
}

KTEST(string, "memmove handles overlap to the left")
{
	char buf[] = "abcdef";

	memmove(buf, buf + 2, 4);
	KTEST_EXPECT_STREQ(buf, "cdefef");
}

KTEST(string, "memmove of a buffer onto itself changes nothing")
{
	char buf[] = "abcdef";

	memmove(buf, buf, 6);
	KTEST_EXPECT_STREQ(buf, "abcdef");
}

KTEST(string, "memset fills n bytes with the low byte of c")
{
	unsigned char buf[6] = { 1, 2, 3, 4, 5, 6 };

	KTEST_EXPECT(memset(buf + 1, 0x1ab, 4) == buf + 1);
	KTEST_EXPECT_EQ(buf[0], 1);
	for (int i = 1; i < 5; i++)
		KTEST_EXPECT_EQ(buf[i], 0xab);
	KTEST_EXPECT_EQ(buf[5], 6);
}

KTEST(string, "memcmp orders by the first differing byte, as unsigned")
{
	KTEST_EXPECT(memcmp("abc", "abc", 3) == 0);
	KTEST_EXPECT(memcmp("abc", "abd", 3) < 0);
	KTEST_EXPECT(memcmp("abd", "abc", 3) > 0);
	KTEST_EXPECT(memcmp("abc", "abd", 2) == 0);
	/* 0x80 is greater than 0x7f: bytes compare as unsigned char. */
	KTEST_EXPECT(memcmp("\x80", "\x7f", 1) > 0);
	KTEST_EXPECT(memcmp("x", "y", 0) == 0);
}

KTEST(string, "strlen counts the bytes before the NUL")
{
	KTEST_EXPECT_EQ(strlen(""), 0);
	KTEST_EXPECT_EQ(strlen("fern"), 4);
	KTEST_EXPECT_EQ(strlen("ab\0cd"), 2);
}

KTEST(string, "strnlen stops at max")
{
	char unterminated[4] = { 'a', 'b', 'c', 'd' };

	KTEST_EXPECT_EQ(strnlen("fern", 10), 4);
	KTEST_EXPECT_EQ(strnlen("fern", 2), 2);
	KTEST_EXPECT_EQ(strnlen("fern", 0), 0);
	KTEST_EXPECT_EQ(strnlen(unterminated, sizeof(unterminated)), 4);
}

KTEST(string, "strcmp orders strings as unsigned chars, shorter first")
{
	KTEST_EXPECT(strcmp("fern", "fern") == 0);
	KTEST_EXPECT(strcmp("fern", "fir") < 0);
	KTEST_EXPECT(strcmp("fir", "fern") > 0);
	KTEST_EXPECT(strcmp("fer", "fern") < 0);
	KTEST_EXPECT(strcmp("fern", "fer") > 0);
	KTEST_EXPECT(strcmp("\x80", "a") > 0);
	KTEST_EXPECT(strcmp("", "") == 0);
}

KTEST(string, "strncmp compares at most n characters")
{
	KTEST_EXPECT(strncmp("fern", "ferry", 3) == 0);
	KTEST_EXPECT(strncmp("fern", "ferry", 4) < 0);
	KTEST_EXPECT(strncmp("abc", "abc", 10) == 0);
	KTEST_EXPECT(strncmp("ab", "abc", 10) < 0);
	KTEST_EXPECT(strncmp("x", "y", 0) == 0);
}

KTEST(string, "strchr finds the first match, the NUL, or nothing")
{
	const char *s = "banana";

	KTEST_EXPECT(strchr(s, 'a') == s + 1);
	KTEST_EXPECT(strchr(s, 'b') == s);
	KTEST_EXPECT(strchr(s, '\0') == s + 6);
	KTEST_EXPECT(strchr(s, 'z') == NULL);
}
