/*
 * iobench: a tiny block I/O timer for tools/bench/storage.py.
 *
 * The same binary runs inside an ec2lab guest (against /dev/vdb) and on the
 * host (against a file of the same kind), so both sides measure exactly the
 * same thing. Built at benchmark time:
 *
 *     gcc -O2 -static -o iobench iobench.c
 *
 * Usage:
 *     iobench PATH MODES SIZE BS OPS
 *
 *   PATH   a block device or a regular file (it must already be SIZE bytes
 *          long or longer for the read modes; writes never extend it past SIZE)
 *   MODES  one mode or several separated by commas, run in that order in this
 *          one process (a process start costs about a second on a host whose
 *          guest kernel is emulated): seqread, seqwrite, randread, randwrite
 *   SIZE   bytes the test covers, with an optional K, M or G suffix (powers of
 *          1024). Sequential modes move all SIZE bytes from offset 0; random
 *          modes pick offsets in [0, SIZE).
 *   BS     block size for the sequential modes (random modes always use 4 KiB
 *          when BS is larger; a BS of 4K or less is used as is). Suffixes as SIZE.
 *   OPS    how many operations each random mode does.
 *
 * The file is opened with O_DIRECT (no page cache on this side); when the file
 * system refuses it, without O_DIRECT, and the line says direct=0. Writes end
 * with fdatasync(), inside the timed interval, in both cases. The buffer is
 * 4 KiB aligned and filled with non-zero bytes. Random offsets come from a
 * fixed-seed xorshift generator, so every run visits the same offsets.
 *
 * Output, one line per mode on stdout:
 *     IOBENCH mode=seqwrite bytes=4194304 ops=4 bs=1048576 direct=1 secs=0.012345 mibps=324.01 iops=324.01
 * Errors go to stderr as "IOBENCH-ERROR ..." and the exit code is 1 (2 for usage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ALIGN 4096
#define RAND_BS 4096

static void usage(void)
{
	fprintf(stderr,
		"usage: iobench PATH MODES SIZE BS OPS\n"
		"  MODES: seqread|seqwrite|randread|randwrite, several joined by commas\n"
		"  SIZE, BS: bytes, optional K/M/G suffix; OPS: random operations per mode\n"
		"example: iobench /dev/vdb seqwrite,seqread,randwrite,randread 4M 1M 200\n");
	exit(2);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Full-length pread/pwrite at one offset; short transfers are continued. */
static int transfer(int fd, int writing, char *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = writing ? pwrite(fd, buf + done, len - done, (off_t)(off + done))
				    : pread(fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO; /* end of file before SIZE: the file is too small */
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int open_target(const char *path, int *direct)
{
	int fd = open(path, O_RDWR | O_DIRECT);
	if (fd >= 0) {
		*direct = 1;
		return fd;
	}
	if (errno != EINVAL)
		return -1;
	*direct = 0;
	return open(path, O_RDWR);
}

static int run_mode(const char *path, const char *mode, uint64_t size, uint64_t bs, uint64_t ops)
{
	int seq = !strcmp(mode, "seqread") || !strcmp(mode, "seqwrite");
	int writing = !strcmp(mode, "seqwrite") || !strcmp(mode, "randwrite");
	if (!seq && strcmp(mode, "randread") && strcmp(mode, "randwrite")) {
		fprintf(stderr, "IOBENCH-ERROR mode=%s unknown mode\n", mode);
		return -1;
	}
	uint64_t block = seq ? bs : (bs < RAND_BS ? bs : RAND_BS);
	uint64_t count = seq ? size / block : ops;
	if (block == 0 || count == 0 || size < block) {
		fprintf(stderr, "IOBENCH-ERROR mode=%s nothing to do (size %llu, block %llu, ops %llu)\n",
			mode, (unsigned long long)size, (unsigned long long)block,
			(unsigned long long)count);
		return -1;
	}

	int direct = 0;
	int fd = open_target(path, &direct);
	if (fd < 0) {
		fprintf(stderr, "IOBENCH-ERROR mode=%s open %s: %s\n", mode, path, strerror(errno));
		return -1;
	}
	char *buf;
	if (posix_memalign((void **)&buf, ALIGN, block)) {
		fprintf(stderr, "IOBENCH-ERROR mode=%s cannot allocate %llu bytes\n", mode,
			(unsigned long long)block);
		close(fd);
		return -1;
	}
	memset(buf, 0x5a, block);
	uint64_t slots = size / block; /* aligned positions for random offsets */
	rng_state = 0x9e3779b97f4a7c15ULL ^ (writing ? 0x1234567ULL : 0);

	double t0 = now();
	for (uint64_t i = 0; i < count; i++) {
		uint64_t off = seq ? i * block : (next_random() % slots) * block;
		if (writing && seq)
			buf[0] = (char)i; /* the data changes from block to block */
		if (transfer(fd, writing, buf, block, off)) {
			fprintf(stderr, "IOBENCH-ERROR mode=%s %s at offset %llu: %s\n", mode,
				writing ? "write" : "read", (unsigned long long)off, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
	}
	if (writing && fdatasync(fd)) {
		fprintf(stderr, "IOBENCH-ERROR mode=%s fdatasync: %s\n", mode, strerror(errno));
		free(buf);
		close(fd);
		return -1;
	}
	double secs = now() - t0;
	free(buf);
	close(fd);

	uint64_t bytes = count * block;
	if (secs <= 0)
		secs = 1e-9;
	printf("IOBENCH mode=%s bytes=%llu ops=%llu bs=%llu direct=%d secs=%.6f mibps=%.2f iops=%.1f\n",
	       mode, (unsigned long long)bytes, (unsigned long long)count,
	       (unsigned long long)block, direct, secs, (double)bytes / 1048576.0 / secs,
	       (double)count / secs);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size, bs, ops;
	if (argc != 6 || parse_size(argv[3], &size) || parse_size(argv[4], &bs) ||
	    parse_size(argv[5], &ops))
		usage();
	if (bs % 512 || bs == 0) {
		fprintf(stderr, "IOBENCH-ERROR BS must be a non-zero multiple of 512\n");
		return 2;
	}
	int failed = 0;
	char *modes = strdup(argv[2]);
	for (char *save = NULL, *m = strtok_r(modes, ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (run_mode(argv[1], m, size, bs, ops))
			failed = 1;
	free(modes);
	return failed;
}
