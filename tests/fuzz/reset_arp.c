/*
 * src/net/arp.c, and a way to empty its cache (reset.h). Packets that
 * waited for an answer are dropped as the cache itself drops them when
 * an entry gives up; the tick stops, and arp_announce() starts it again.
 */
#include "../../src/net/arp.c"

#include "reset.h"

void fuzz_arp_reset(void)
{
	for (unsigned int i = 0; i < ARP_ENTRIES; i++) {
		drop_queue(&cache[i], NET_DROP_ARP_UNRESOLVED);
		memset(&cache[i], 0, sizeof(cache[i]));
	}
	loop_timer_stop(&tick);
}
