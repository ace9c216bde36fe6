# Chapter 8 — unikernel: TCP, and the HTTP server that serves the course
# (the posts, labs and guides, rendered at build time by tools/site.py and
# loaded by GRUB as a Multiboot2 module), configured in C (src/app/main.c).
CHAPTERS += 8
ch8.slug := unikernel
ch8.title := unikernel: TCP and the HTTP server
ch8.srcs := \
	src/net/tcp.c \
	src/net/tcp_echo.c \
	src/app/site.c \
	src/app/http_parse.c \
	src/app/http.c \
	src/app/http_test.c \
	src/app/main.c
ch8.tests := \
	tests/ch08_unikernel.py \
	tests/host/test_tcp.c \
	tests/host/tcp_host.c \
	tests/host/test_http.c \
	tests/host/test_site.c \
	tests/fuzz/fuzz_frame.c \
	tests/fuzz/reset_tcp.c \
	tests/fuzz/fuzz_http.c \
	tests/fuzz/fuzz_site.c
ch8.files := tools/site.py tools/bench_http.py tests/fernlab/tcp_peer.py tests/hardening.py \
	docs/unikernel.md
ch8.blog := blog/08-unikernel.md
ch8.lab := labs/lab8
