/*
 * netbench: a tiny TCP server for tools/bench/net.py.
 *
 * The same binary runs inside an ec2lab guest (started from a boot hook) and
 * in a host network namespace (the veth baseline), so both sides of the
 * comparison serve the same bytes the same way. The client is net.py on the
 * host. Built at benchmark time:
 *
 *     gcc -O2 -static -o netbench netbench.c
 *
 * Usage:
 *     netbench serve PORT LIFETIME_SECS
 *
 * Listens on 0.0.0.0:PORT and serves one connection at a time (no fork, no
 * threads: a process start costs about a second on a host whose guest kernel
 * is emulated). It exits by itself after LIFETIME_SECS (alarm), so a server
 * that nobody stops does not linger. Each connection starts with one request
 * line (at most 127 bytes, ending in '\n'):
 *
 *   sink\n        read until EOF, then answer
 *                 "NETBENCH sink bytes=N secs=S\n" (S from the first data byte
 *                 to EOF by this side's clock) and close
 *   source N\n    send N bytes, then close
 *   echo\n        send back every byte that arrives, until EOF
 *   GET ...       an HTTP/1.0-style request: read to the blank line, answer
 *                 "200 OK" with a 13-byte body and close
 *
 * All accepted sockets get TCP_NODELAY. Prints "NETBENCH-LISTENING port=N" on
 * stdout once it listens; errors go to stderr as "NETBENCH-ERROR ...".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_LEN (256 * 1024)
#define LINE_MAX_LEN 128
#define IO_TIMEOUT_SECS 120

static char buf[BUF_LEN];

static const char HTTP_REPLY[] =
	"HTTP/1.0 200 OK\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 13\r\n"
	"Connection: close\r\n"
	"\r\n"
	"hello, world\n";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Counts bytes until EOF; `have` bytes of data already arrived with the request line. */
static void do_sink(int fd, size_t have)
{
	uint64_t total = have;
	double t0 = have ? now() : 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "NETBENCH-ERROR sink read: %s\n", strerror(errno));
			return;
		}
		if (n == 0)
			break;
		if (!total)
			t0 = now();
		total += (uint64_t)n;
	}
	double secs = total ? now() - t0 : 0;
	char line[96];
	int len = snprintf(line, sizeof line, "NETBENCH sink bytes=%llu secs=%.6f\n",
			   (unsigned long long)total, secs);
	write_all(fd, line, (size_t)len);
}

static void do_source(int fd, uint64_t total)
{
	memset(buf, 0x5a, sizeof buf);
	while (total) {
		size_t chunk = total < sizeof buf ? (size_t)total : sizeof buf;
		if (write_all(fd, buf, chunk)) {
			fprintf(stderr, "NETBENCH-ERROR source write: %s\n", strerror(errno));
			return;
		}
		total -= chunk;
	}
}

static void do_echo(int fd, const char *first, size_t have)
{
	if (have && write_all(fd, first, have))
		return;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(fd, buf, (size_t)n))
			return;
	}
}

/* Reads to the end of the HTTP request head (a blank line), then answers. */
static void do_http(int fd, char *head, size_t len)
{
	while (!memmem(head, len, "\r\n\r\n", 4) && !memmem(head, len, "\n\n", 2)) {
		if (len >= LINE_MAX_LEN * 8)
			return;
		ssize_t n = read(fd, head + len, LINE_MAX_LEN * 8 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		len += (size_t)n;
	}
	write_all(fd, HTTP_REPLY, sizeof HTTP_REPLY - 1);
}

static void serve(int fd)
{
	static char head[LINE_MAX_LEN * 8 + 1];
	size_t len = 0;
	char *nl = NULL;
	/* The request line and maybe some data after it arrive in the first read(s). */
	while (!nl) {
		if (len >= LINE_MAX_LEN) {
			fprintf(stderr, "NETBENCH-ERROR request line too long\n");
			return;
		}
		ssize_t n = read(fd, head + len, LINE_MAX_LEN * 8 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		len += (size_t)n;
		nl = memchr(head, '\n', len);
	}
	size_t line_len = (size_t)(nl - head) + 1;
	size_t rest = len - line_len;
	if (!strncmp(head, "GET ", 4)) {
		do_http(fd, head, len);
	} else if (!strncmp(head, "sink\n", 5)) {
		do_sink(fd, rest);
	} else if (!strncmp(head, "echo\n", 5)) {
		do_echo(fd, nl + 1, rest);
	} else if (!strncmp(head, "source ", 7)) {
		*nl = 0;
		char *end;
		unsigned long long total = strtoull(head + 7, &end, 10);
		if (end == head + 7 || *end) {
			fprintf(stderr, "NETBENCH-ERROR bad source request\n");
			return;
		}
		do_source(fd, total);
	} else {
		fprintf(stderr, "NETBENCH-ERROR unknown request\n");
	}
}

int main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[1], "serve")) {
		fprintf(stderr, "usage: netbench serve PORT LIFETIME_SECS\n"
				"example: netbench serve 5201 900\n");
		return 2;
	}
	int port = atoi(argv[2]);
	int lifetime = atoi(argv[3]);
	if (port <= 0 || port > 65535 || lifetime <= 0) {
		fprintf(stderr, "NETBENCH-ERROR bad port or lifetime\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)lifetime); /* default action: the process ends */

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 8)) {
		fprintf(stderr, "NETBENCH-ERROR listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("NETBENCH-LISTENING port=%d\n", port);
	fflush(stdout);

	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "NETBENCH-ERROR accept: %s\n", strerror(errno));
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct timeval tv = {.tv_sec = IO_TIMEOUT_SECS};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		serve(fd);
		close(fd);
	}
}
