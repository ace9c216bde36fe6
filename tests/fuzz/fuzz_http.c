/*
 * Fuzz target: the HTTP request parser (src/app/http_parse.c) on the
 * input as a header section, exactly the input's bytes, so that a read
 * one past them is AddressSanitizer's (libFuzzer's buffer ends there).
 *
 * Besides not crashing, the parser keeps its contract (http.h): it
 * answers 0 or one of the statuses it names, and on 0 the method is a
 * token and the target visible ASCII of at most HTTP_TARGET_MAX bytes,
 * both inside the input. If-None-Match, when there is one, goes through
 * http_etag_matches() against an entity tag of fern's form, and so does
 * the whole input, as if it were such a field's value.
 */
#include <fern/http.h>

#include <stdio.h>
#include <stdlib.h>

static const char etag[] = "\"12c-0badcafe\"";

/* Stop with what broke: libFuzzer saves the input. */
static void broken(const char *what)
{
	fprintf(stderr, "fuzz: http_parse_request(): %s\n", what);
	abort();
}

static bool inside(const void *p, size_t len, const uint8_t *data, size_t size)
{
	const uint8_t *b = p;

	return b >= data && b <= data + size && len <= (size_t)(data + size - b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request r;
	int status = http_parse_request(data, size, &r);

	http_etag_matches((const char *)data, size, etag, sizeof(etag) - 1);
	if (status != 0 && status != 400 && status != 414 && status != 501 && status != 505)
		broken("a status the header does not name");
	if (status)
		return 0;
	if (!inside(r.method, r.method_len, data, size) || !r.method_len)
		broken("the method is not in the input");
	if (!inside(r.target, r.target_len, data, size) || !r.target_len ||
	    r.target_len > HTTP_TARGET_MAX)
		broken("the target is not in the input, or too long");
	for (size_t i = 0; i < r.target_len; i++) {
		if ((uint8_t)r.target[i] <= ' ' || (uint8_t)r.target[i] >= 0x7f)
			broken("the target has a byte that is not visible ASCII");
	}
	if (r.minor < 0 || r.minor > 9)
		broken("the minor version is not a digit");
	if (r.if_none_match) {
		if (!inside(r.if_none_match, r.if_none_match_len, data, size))
			broken("If-None-Match is not in the input");
		http_etag_matches(r.if_none_match, r.if_none_match_len, etag, sizeof(etag) - 1);
	}
	return 0;
}
