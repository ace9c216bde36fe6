CHAPTERS += 8
ch8.slug := unikernel
ch8.title := unikernel: TCP and the HTTP server
ch8.srcs := \
	src/net/tcp.c \
	src/net/tcp_echo.c \
	src/app/site.c \
	src/app/http.c \
	src/app/main.c
ch8.tests := tests/ch08_unikernel.py
