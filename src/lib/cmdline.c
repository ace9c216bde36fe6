/*
 * Command-line options. The command line is short and read a few times at
 * boot, so a linear scan per lookup is the clearest choice.
 */
#include <fern/cmdline.h>
#include <fern/string.h>

bool cmdline_get(const char *cmdline, const char *key, char *value, size_t size)
{
	size_t key_len = strlen(key);
	bool found = false;
	const char *p = cmdline;

	while (p && *p) {
		const char *word, *end;

		while (*p == ' ')
			p++;
		word = p;
		while (*p && *p != ' ')
			p++;
		end = p;
		if ((size_t)(end - word) < key_len || strncmp(word, key, key_len) != 0)
			continue;
		if (word + key_len == end) {
			found = true;
			if (size)
				value[0] = '\0';
		} else if (word[key_len] == '=') {
			const char *v = word + key_len + 1;
			size_t n = (size_t)(end - v);

			found = true;
			if (size) {
				if (n > size - 1)
					n = size - 1;
				memcpy(value, v, n);
				value[n] = '\0';
			}
		}
	}
	return found;
}

bool cmdline_is(const char *cmdline, const char *key, const char *expected)
{
	char value[64];

	return cmdline_get(cmdline, key, value, sizeof(value)) &&
	       strcmp(value, expected) == 0;
}
