/*
 * The unikernel's application: fern serving its own course over HTTP.
 * This is the whole of its configuration, MirageOS-style: a value the
 * compiler checks, not a file read at boot.
 */
#include <fern/boot.h>
#include <fern/http.h>
#include <fern/init.h>
#include <fern/net.h>

static const struct http_config course_site = {
	.port = 80,
	.index = "/index.html",
	.max_connections = 64,
	.idle_ms = 30000,
	.max_body = 65536,
};

static int app_start(const struct boot_info *info)
{
	(void)info;
	if (!netif.dev) {
		/* net.c said "net: no interface" already. */
		return 0;
	}
	return http_start(&course_site);
}
INITCALL(INIT_APP, app_start);
