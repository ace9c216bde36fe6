/*
 * src/net/dhcp.c, and a way to stop it and start it from the beginning
 * (reset.h): its timers stopped, its socket unbound, its state as at
 * boot, no address; then its own init call, which sends a DISCOVER.
 */
#include "../../src/net/dhcp.c"

#include "reset.h"

void fuzz_dhcp_stop(void)
{
	loop_timer_stop(&dhcp.retry);
	loop_timer_stop(&dhcp.t1);
	loop_timer_stop(&dhcp.t2);
	loop_timer_stop(&dhcp.expiry);
	udp_unbind(&dhcp.sock);
	memset(&dhcp, 0, sizeof(dhcp));
	dhcp.first_retry_ms = 1000;
	netif.addr = netif.mask = netif.gateway = netif.dns = 0;
}

void fuzz_dhcp_start(const struct boot_info *info)
{
	dhcp_init(info);
}
